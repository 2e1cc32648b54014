namespace MailAgent.Grpc;

internal static partial class Log
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "mailagent grpc listening on {Address}")]
    public static partial void Listening(ILogger logger, string address);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "gRPC caller rejected ({Reason}): subject '{Subject}' from {Remote}: {Detail}")]
    public static partial void Rejected(ILogger logger, string reason, string subject, string remote, string detail);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "WatchEvents from {Remote} after {ResumeAfter}: events {FirstMissed} to {FirstAvailable} were dropped from the buffer")]
    public static partial void EventsLost(ILogger logger, string remote, ulong resumeAfter, ulong firstMissed, ulong firstAvailable);
}
