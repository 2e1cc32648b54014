namespace MailControlPlane.DeliveryEvents;

internal static partial class Log
{
    [LoggerMessage(EventId = 17500, Level = LogLevel.Warning, Message = "Delivery events: the store is unavailable ({Reason}); retrying in {Delay}")]
    public static partial void StoreUnavailable(ILogger logger, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 17501, Level = LogLevel.Warning, Message = "Delivery events: writing {Rows} row(s) failed ({Reason}); retrying in {Delay}, the streams wait meanwhile")]
    public static partial void WriteFailed(ILogger logger, int rows, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 17502, Level = LogLevel.Warning, Message = "Delivery events: agent {Agent} no longer holds events {FirstMissed} to {FirstAvailable} (an agent restart shows first missed beyond first available)")]
    public static partial void EventsLost(ILogger logger, string agent, ulong firstMissed, ulong firstAvailable);

    [LoggerMessage(EventId = 17503, Level = LogLevel.Warning, Message = "Delivery events: deleting rows past the retention failed ({Reason}); tried again in an hour")]
    public static partial void RetentionFailed(ILogger logger, string reason);
}
