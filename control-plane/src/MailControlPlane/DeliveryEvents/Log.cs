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

    [LoggerMessage(EventId = 17504, Level = LogLevel.Warning, Message = "Webhook: posting agent {Agent}'s events {FirstId} to {LastId} failed (attempt {Attempt}: {Reason}); retrying in {Delay}, that agent's later events wait")]
    public static partial void WebhookPostFailed(ILogger logger, string agent, long firstId, long lastId, int attempt, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 17505, Level = LogLevel.Error, Message = "Webhook: gave up agent {Agent}'s {Count} event(s) {FirstId} to {LastId} after {Attempts} attempts (dead letters); they stay in messaging_delivery_events")]
    public static partial void WebhookDeadLetter(ILogger logger, string agent, int count, long firstId, long lastId, int attempts);

    [LoggerMessage(EventId = 17506, Level = LogLevel.Warning, Message = "Webhook: reading events or moving the cursor failed ({Reason}); retrying in {Delay}")]
    public static partial void WebhookStoreFailed(ILogger logger, string reason, TimeSpan delay);
}
