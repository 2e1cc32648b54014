namespace MailAgent.Config;

/// <summary>The HTTP listener for /metrics (section <c>Http</c>).</summary>
internal sealed class HttpOptions
{
    public const string SectionName = "Http";

    /// <summary>Semicolon-separated listen URLs; port 0 picks a free port (logged at start).</summary>
    public string Urls { get; set; } = "http://127.0.0.1:9160";
}

/// <summary>Bounds of the per-message correlation state (section <c>Correlation</c>).</summary>
internal sealed class CorrelationOptions
{
    public const string SectionName = "Correlation";

    /// <summary>Most messages followed at once; the oldest are dropped (and counted) beyond it.</summary>
    public int MaxMessages { get; set; } = 200_000;

    /// <summary>A message not seen to end within this time is dropped (and counted as never removed).</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(6);
}

/// <summary>The agent's own log (section <c>AgentLog</c>).</summary>
internal sealed class AgentLogOptions
{
    public const string SectionName = "AgentLog";

    /// <summary>Rolling log file; empty logs to the console only.</summary>
    public string FilePath { get; set; } = "/var/log/mailagent/agent.log";

    /// <summary>Verbose, Debug, Information, Warning, Error or Fatal.</summary>
    public string Level { get; set; } = "Information";

    /// <summary>Days of rolled files kept.</summary>
    public int RetainedDays { get; set; } = 14;
}

/// <summary>How the daemon keeps its resident memory small (section <c>Memory</c>).</summary>
internal sealed class MemoryOptions
{
    public const string SectionName = "Memory";

    /// <summary>
    /// After start-up (and once more a minute later), unmap the clean read-only pages of the executable and its shared
    /// libraries that start-up touched; they come back from the page cache when used (Hosting/StartupPages.cs).
    /// </summary>
    public bool ReleaseStartupPages { get; set; } = true;
}
