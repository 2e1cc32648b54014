namespace MailAgent.Certificates;

internal static partial class Log
{
    [LoggerMessage(EventId = 6100, Level = LogLevel.Information, Message = "Certificate {Result} ({Trigger}): {Reason}")]
    public static partial void Outcome(ILogger logger, string result, string trigger, string reason);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Error, Message = "Certificate {Result} ({Trigger}): {Reason}")]
    public static partial void Failed(ILogger logger, string result, string trigger, string reason);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Warning, Message = "Certificate reload command '{Command}' failed: {Output}")]
    public static partial void ReloadCommandFailed(ILogger logger, string command, string output);

    [LoggerMessage(EventId = 6103, Level = LogLevel.Information, Message = "Certificate files changed ({Files}): deploying")]
    public static partial void Changed(ILogger logger, string files);

    [LoggerMessage(EventId = 6104, Level = LogLevel.Error, Message = "The certificate watcher failed; it retries at the next change or poll")]
    public static partial void WatcherFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6105, Level = LogLevel.Information, Message = "Certificate watcher: {Problem}; nothing to watch")]
    public static partial void NothingToWatch(ILogger logger, string problem);
}
