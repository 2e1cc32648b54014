namespace MailAgent.Health;

/// <summary>Health checks: which run, how often, and where they turn degraded or unhealthy (section <c>Health</c>).</summary>
internal sealed class HealthOptions
{
    public const string SectionName = "Health";

    /// <summary>Checks that run, ';'-separated: postfix, log, delivery, smtp, milter, disk, tls, dns, blocklist (dns and blocklist are off by default: they need Health:Dns).</summary>
    public string Checks { get; set; } = "postfix;log;delivery;smtp;milter;disk;tls";

    /// <summary>How often the fast checks (postfix, log, smtp, milter) run.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the slow checks (delivery, disk, tls, dns) run.</summary>
    public TimeSpan SlowInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A check that takes longer counts as unhealthy.</summary>
    public TimeSpan CheckTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Start-up (and systemd READY=1) waits at most this long for the tail and the first checks.</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A loop (tail, health) silent this long stops the systemd watchdog pings and /health/live.</summary>
    public TimeSpan LoopStallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>No new log line for this long: degraded.</summary>
    public TimeSpan LogStaleDegraded { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>No new log line for this long: unhealthy.</summary>
    public TimeSpan LogStaleUnhealthy { get; set; } = TimeSpan.FromHours(2);

    /// <summary>The log path missing this long: unhealthy (before: degraded, as after a rotation that has not created the new file yet).</summary>
    public TimeSpan LogMissingUnhealthy { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Unread log bytes above this: degraded.</summary>
    public long LogLagDegradedBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Unread log bytes above this: unhealthy.</summary>
    public long LogLagUnhealthyBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Window over which delivery outcomes and DKIM signing are compared.</summary>
    public TimeSpan OutcomeWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Fewer delivery attempts than this in the window: no verdict (healthy).</summary>
    public int DeliveryMinAttempts { get; set; } = 20;

    /// <summary>Server-caused failures / attempts at or above this: degraded.</summary>
    public double DeliveryFailureDegraded { get; set; } = 0.2;

    /// <summary>Server-caused failures / attempts at or above this: unhealthy.</summary>
    public double DeliveryFailureUnhealthy { get; set; } = 0.5;

    /// <summary>SMTP listeners that must answer 220 and EHLO, ';'-separated host:port.</summary>
    public string SmtpEndpoints { get; set; } = "127.0.0.1:25";

    /// <summary>
    /// Milter addresses (inet:host:port, unix:/path, local:/path or host:port; several separated by ',');
    /// empty (the default) checks the milters Postfix itself uses: postconf smtpd_milters and non_smtpd_milters.
    /// </summary>
    public string MilterAddress { get; set; } = "";

    /// <summary>
    /// Loopback source address of the agent's own SMTP and TLS probes (to loopback listeners); the log parser leaves
    /// smtpd sessions from it out of the client counters. Empty: probes leave from 127.0.0.1 and count as clients.
    /// </summary>
    public string ProbeSourceAddress { get; set; } = MailAgent.Probes.ProbeConnection.DefaultSourceAddress;

    /// <summary>Fewer queued messages than this in the window: no signing verdict.</summary>
    public int DkimMinMessages { get; set; } = 10;

    /// <summary>DKIM signatures / queued messages below this: degraded.</summary>
    public double DkimSigningDegraded { get; set; } = 0.5;

    /// <summary>Directory on the queue file system.</summary>
    public string QueueDirectory { get; set; } = "/var/spool/postfix";

    /// <summary>Free space below this percentage: degraded.</summary>
    public double DiskFreeDegradedPercent { get; set; } = 10;

    /// <summary>Free space below this percentage: unhealthy.</summary>
    public double DiskFreeUnhealthyPercent { get; set; } = 5;

    /// <summary>The dns check's records and resolver (<c>Health:Dns</c>); read only when dns is in <see cref="Checks"/>.</summary>
    public Dns.DnsCheckOptions Dns { get; set; } = new();

    public IReadOnlyList<string> CheckNames() =>
        Checks.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(c => c.ToLowerInvariant()).Distinct().ToArray();

    public IReadOnlyList<string> SmtpEndpointList() =>
        SmtpEndpoints.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static readonly string[] KnownChecks = ["postfix", "log", "delivery", "smtp", "milter", "disk", "tls", "dns", "blocklist"];
}
