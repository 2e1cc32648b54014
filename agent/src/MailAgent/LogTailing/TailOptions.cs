namespace MailAgent.LogTailing;

/// <summary>Where the log is and how to follow it (section <c>LogTailing</c>); checked in <c>AgentConfiguration.Validate</c>.</summary>
internal sealed class TailOptions
{
    public const string SectionName = "LogTailing";

    /// <summary>The Postfix log to follow: <c>maillog_file</c>, or syslog's mail log.</summary>
    public string Path { get; set; } = "/var/log/mail.log";

    /// <summary>Directory for the checkpoint; must be writable by the agent.</summary>
    public string StateDirectory { get; set; } = "/var/lib/mailagent";

    /// <summary>Where to begin when there is no checkpoint: <c>End</c> (default) or <c>Beginning</c>.</summary>
    public TailStart StartAt { get; set; } = TailStart.End;

    /// <summary>Fallback poll when file-system notifications are missed or unavailable.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the checkpoint is written while lines arrive.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a renamed log is still read after rotation, for lines its writer adds late.</summary>
    public TimeSpan RotatedFileGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Diagnostics: a file listing a hash of every line counted, kept in step with the checkpoint (empty: off).</summary>
    public string LineDigestFile { get; set; } = "";
}

internal enum TailStart
{
    End,
    Beginning,
}
