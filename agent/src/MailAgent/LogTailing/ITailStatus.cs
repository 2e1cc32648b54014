namespace MailAgent.LogTailing;

/// <summary>Read-only view of the tail loop for health checks and the watchdog.</summary>
internal interface ITailStatus
{
    /// <summary>The checkpoint is loaded and the tail positioned.</summary>
    bool Positioned { get; }

    /// <summary>Bytes written to the log and not read yet, as of the last read.</summary>
    long LagBytes { get; }

    /// <summary>When the tail loop last went round (null before the first round).</summary>
    DateTimeOffset? LastLoopUtc { get; }
}
