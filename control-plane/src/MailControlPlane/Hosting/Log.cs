using MailControlPlane.Scoring;

namespace MailControlPlane.Hosting;

internal static partial class Log
{
    [LoggerMessage(EventId = 11000, Level = LogLevel.Information, Message = "mailagent-control-plane listening on {Address}")]
    public static partial void Listening(ILogger logger, string address);

    [LoggerMessage(EventId = 11001, Level = LogLevel.Information, Message = "mailagent-control-plane grpc listening on {Address}")]
    public static partial void GrpcListening(ILogger logger, string address);

    [LoggerMessage(EventId = 11002, Level = LogLevel.Information, Message = "Provider {Provider}: {State}, score {Score}, active {IsActive} ({Reason})")]
    public static partial void ProviderStateChanged(ILogger logger, string provider, ProviderState state, int score, bool isActive, string reason);

    [LoggerMessage(EventId = 11003, Level = LogLevel.Error, Message = "An evaluation round failed; the routing table keeps the last verdicts")]
    public static partial void EvaluationFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 11004, Level = LogLevel.Information, Message = "mailagent-control-plane {Version} starting: {Agents} agent(s), routing table in {Routing}")]
    public static partial void Starting(ILogger logger, string version, int agents, string routing);

    [LoggerMessage(EventId = 17610, Level = LogLevel.Information, Message = "Fleet: watching {File} for agent changes (also reloaded on SIGHUP)")]
    public static partial void WatchingConfiguration(ILogger logger, string file);

    [LoggerMessage(EventId = 17611, Level = LogLevel.Information, Message = "Fleet reloaded ({Why}): {Agents} agent(s); added {Added}; removed {Removed}")]
    public static partial void Reloaded(ILogger logger, string why, int agents, string added, string removed);

    [LoggerMessage(EventId = 17612, Level = LogLevel.Error, Message = "Fleet reload ({Why}) refused, the running agents are kept: {Errors}")]
    public static partial void ReloadRejected(ILogger logger, string why, string errors);
}
