namespace MailAgent.Tests.Integration.Postfix;

/// <summary>Knobs of a <see cref="PrivatePostfix"/> instance; the defaults suit a fast test.</summary>
internal sealed record PrivatePostfixOptions
{
    /// <summary>How often the queue manager scans the deferred queue (Postfix default 300 s).</summary>
    public TimeSpan QueueRunDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Least time a deferred message waits before the next attempt (Postfix default 300 s).</summary>
    public TimeSpan MinimalBackoffTime { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Most time a deferred message waits between attempts (Postfix default 4000 s).</summary>
    public TimeSpan MaximalBackoffTime { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>When deferred mail is returned as undeliverable; null keeps the Postfix default (5 days).</summary>
    public TimeSpan? MaximalQueueLifetime { get; init; }

    /// <summary>The same for bounce messages; null keeps the Postfix default (5 days).</summary>
    public TimeSpan? BounceQueueLifetime { get; init; }

    /// <summary>What Postfix does when OpenDKIM is unreachable: accept (production-like), tempfail or reject.</summary>
    public string MilterDefaultAction { get; init; } = "accept";

    /// <summary>Extra main.cf settings, written last so they win over the harness's own.</summary>
    public IReadOnlyDictionary<string, string> ExtraMainCf { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Also write OpenDKIM's syslog lines to <see cref="PrivatePostfix.LogPath"/>, through postlogd, as a
    /// system syslog daemon does with mail.log; they still go to <see cref="PrivatePostfix.OpenDkimLogPath"/>.
    /// Has no effect where OpenDKIM's log cannot be captured.
    /// </summary>
    public bool OpenDkimLogToMaillog { get; init; }

    /// <summary>
    /// Opt-in TLS: a PEM file holding the private key then the certificate chain (leaf first), used as
    /// smtpd_tls_chain_files with smtpd_tls_security_level = may, so both the SMTP and the submission
    /// listener offer STARTTLS with it. Null (the default) keeps TLS off.
    /// </summary>
    public string? TlsChainFile { get; init; }

    /// <summary>
    /// OpenDKIM listens on a unix socket (<c>Socket local:PATH</c>, as Debian's stock OpenDKIM does) instead of
    /// 127.0.0.1:MilterPort, and Postfix's smtpd_milters names it as <c>unix:PATH</c>.
    /// </summary>
    public bool MilterOnUnixSocket { get; init; }

    /// <summary>Deadline for the whole start: key generation, OpenDKIM, sinks and Postfix.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>Receives progress and diagnostic lines (for example ITestOutputHelper.WriteLine).</summary>
    public Action<string>? Diagnostics { get; init; }
}
