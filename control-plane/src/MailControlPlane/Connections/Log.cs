namespace MailControlPlane.Connections;

internal static partial class Log
{
    [LoggerMessage(EventId = 11100, Level = LogLevel.Information, Message = "Agent {Agent} ({Address}): {From} -> {To}{Detail}")]
    public static partial void StateChanged(ILogger logger, string agent, Uri address, ConnectionState from, ConnectionState to, string detail);

    [LoggerMessage(EventId = 11101, Level = LogLevel.Warning, Message = "Agent {Agent}: events {FirstMissed}..{LastMissed} were lost (the agent's event buffer overran); resuming at {FirstAvailable}")]
    public static partial void EventsLost(ILogger logger, string agent, ulong firstMissed, ulong lastMissed, ulong firstAvailable);

    [LoggerMessage(EventId = 17710, Level = LogLevel.Warning, Message = "Agent {Agent} restarted: its event sequence starts again at {FirstAvailable} (this connection had seen up to {LastSeen}); events of its earlier run after that are not known")]
    public static partial void AgentRestarted(ILogger logger, string agent, ulong firstAvailable, ulong lastSeen);

    [LoggerMessage(EventId = 11102, Level = LogLevel.Warning, Message = "Agent {Agent}: no answer for {Silence}, more than Connections:HeartbeatTimeout; dialling again")]
    public static partial void HeartbeatMissed(ILogger logger, string agent, TimeSpan silence);

    [LoggerMessage(EventId = 11103, Level = LogLevel.Error, Message = "Agent connections cannot start: {Reason}")]
    public static partial void CannotStart(ILogger logger, string reason);

    [LoggerMessage(EventId = 11104, Level = LogLevel.Warning, Message = "Agent {Agent}: {Error}")]
    public static partial void CallFailed(ILogger logger, string agent, string error);
}
