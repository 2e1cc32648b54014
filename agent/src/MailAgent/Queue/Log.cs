namespace MailAgent.Queue;

/// <summary>The queue inspector's log messages (event IDs 2000–2099).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Listing the Postfix queue every {Interval} with '{Command}' (timeout {Timeout})")]
    public static partial void InspectorStarted(ILogger logger, TimeSpan interval, string command, TimeSpan timeout);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Listing the Postfix queue failed: {Reason}; the last good numbers stay published, retrying every {Interval}")]
    public static partial void InspectionFailed(ILogger logger, string reason, TimeSpan interval);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Listing the Postfix queue works again after {Failures} failed run(s): {Messages} messages")]
    public static partial void InspectionRecovered(ILogger logger, int failures, long messages);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "Queue snapshot: {Messages} messages, {Bytes} bytes in {Duration} ms")]
    public static partial void SnapshotTaken(ILogger logger, long messages, long bytes, long duration);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "postqueue output had {Malformed} line(s) that are not queue entries; they were skipped")]
    public static partial void MalformedLines(ILogger logger, long malformed);
}
