namespace MailAgent.Hosting;

/// <summary>Log messages of Hosting (event IDs 7900-7949).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 7900, Level = LogLevel.Information,
        Message = "Releasing {ResidentKiB} KiB of the executable's and its libraries' clean read-only pages ({Mappings} mappings) after {Stage}; used pages come back from the page cache")]
    public static partial void StartupPagesReleasing(ILogger logger, long residentKiB, int mappings, string stage);

    [LoggerMessage(EventId = 7901, Level = LogLevel.Warning,
        Message = "madvise refused {Failed} of the read-only mappings of the executable and its libraries after {Stage}; they stay mapped (Memory:ReleaseStartupPages = false turns this off)")]
    public static partial void StartupPagesRefused(ILogger logger, int failed, string stage);

    [LoggerMessage(EventId = 7902, Level = LogLevel.Warning,
        Message = "Cannot read this process's mappings after {Stage} ({Reason}); nothing released (Memory:ReleaseStartupPages = false turns this off)")]
    public static partial void StartupPagesUnreadable(ILogger logger, string reason, string stage);
}
