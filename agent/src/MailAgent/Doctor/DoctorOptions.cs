namespace MailAgent.Doctor;

/// <summary>What <c>mailagent doctor</c> checks beyond Health:Dns and Postfix (section <c>Doctor</c>).</summary>
internal sealed class DoctorOptions
{
    public const string SectionName = "Doctor";

    /// <summary>Address the SMTP listeners are probed on (this host).</summary>
    public string SmtpHost { get; set; } = "127.0.0.1";

    /// <summary>The MTA port (STARTTLS, no AUTH).</summary>
    public int SmtpPort { get; set; } = 25;

    /// <summary>Implicit-TLS submission (submissions).</summary>
    public int SubmissionsPort { get; set; } = 465;

    /// <summary>Submission with STARTTLS, AUTH only after TLS.</summary>
    public int SubmissionPort { get; set; } = 587;

    /// <summary>A user the SASL item logs in as on submission (empty skips the item).</summary>
    public string SaslProbeUser { get; set; } = "";

    /// <summary>A root-only file holding <see cref="SaslProbeUser"/>'s password.</summary>
    public string SaslProbePasswordFile { get; set; } = "";

    /// <summary>Address the open-relay probe connects from: one outside mynetworks (empty: the first of Health:Dns:HostAddresses).</summary>
    public string RelayProbeSource { get; set; } = "";

    /// <summary>A recipient at a domain this host does not serve; only RCPT TO is sent, never DATA.</summary>
    public string RelayProbeRecipient { get; set; } = "doctor-relay-probe@example.net";

    /// <summary>
    /// A recipient the DKIM item sends its test message to; route it in transport_maps to
    /// smtp:[<see cref="DkimSinkAddress"/>]:<see cref="DkimSinkPort"/>, where the doctor listens. Empty skips the item.
    /// </summary>
    public string DkimProbeRecipient { get; set; } = "";

    /// <summary>The test message's sender (empty: postmaster@ the mail domain); its domain must be in OpenDKIM's SigningTable.</summary>
    public string DkimProbeSender { get; set; } = "";

    /// <summary>Where the doctor listens for the signed test message to come back.</summary>
    public string DkimSinkAddress { get; set; } = "127.0.0.1";

    /// <summary>The port of that listener.</summary>
    public int DkimSinkPort { get; set; } = 10026;

    /// <summary>How long the DKIM item waits for its message to arrive.</summary>
    public TimeSpan DkimProbeWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Connect the MTA-STS policy fetch to this address:port instead of resolving mta-sts.DOMAIN (tests; empty resolves normally).</summary>
    public string MtaStsConnectTo { get; set; } = "";

    /// <summary>A PEM file of CA certificates trusted for the policy fetch instead of the system store (tests; empty: the system store).</summary>
    public string MtaStsCaFile { get; set; } = "";

    /// <summary>How long one network probe or DNS query may take.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Spamhaus ZEN zone, queried for each host address; empty skips it.</summary>
    public string ZenZone { get; set; } = "zen.spamhaus.org";

    /// <summary>Spamhaus DBL zone, queried for the mail domain; empty skips it.</summary>
    public string DblZone { get; set; } = "dbl.spamhaus.org";

    /// <summary>More IP blocklist zones, ';'-separated (e.g. b.barracudacentral.org;bl.spamcop.net).</summary>
    public string ExtraBlocklists { get; set; } = "";

    /// <summary>Days a served certificate must still be valid for a pass.</summary>
    public int CertificateMinimumDays { get; set; } = 14;

    /// <summary>fail2ban's configuration directory (jail.conf, jail.local, jail.d/).</summary>
    public string Fail2banDirectory { get; set; } = "/etc/fail2ban";

    /// <summary>fail2ban-client's socket to the running server.</summary>
    public string Fail2banSocket { get; set; } = "/run/fail2ban/fail2ban.sock";

    /// <summary>A file holding 'nft list ruleset' output to read instead of running nft (empty runs nft, then iptables-save).</summary>
    public string FirewallRulesFile { get; set; } = "";

    /// <summary>APT's periodic settings (unattended-upgrades).</summary>
    public string AptPeriodicDirectory { get; set; } = "/etc/apt/apt.conf.d";

    /// <summary>certbot's renewal-hooks deploy directory, where our hook must be.</summary>
    public string CertbotDeployHookDirectory { get; set; } = "/etc/letsencrypt/renewal-hooks/deploy";

    /// <summary>systemd unit directories searched for certbot.timer, ';'-separated.</summary>
    public string SystemdUnitDirectories { get; set; } = "/etc/systemd/system;/lib/systemd/system;/usr/lib/systemd/system";

    /// <summary>The file system whose free space is checked (Postfix's queue).</summary>
    public string DiskPath { get; set; } = "/var/spool/postfix";

    /// <summary>Least free share of <see cref="DiskPath"/> for a pass.</summary>
    public double MinimumFreeDiskRatio { get; set; } = 0.10;

    /// <summary>/proc/meminfo, read for MemAvailable.</summary>
    public string MemInfoFile { get; set; } = "/proc/meminfo";

    /// <summary>Least MemAvailable in MiB for a pass.</summary>
    public int MinimumAvailableMemoryMiB { get; set; } = 128;

    /// <summary>
    /// The control plane's HTTP address (its Http:Urls, e.g. http://cp.internal:9170): the Platform items read its /api/status
    /// instead of the routing database, so this host needs no database credentials. Empty skips them.
    /// </summary>
    public string ControlPlaneUrl { get; set; } = "";

    /// <summary>
    /// This host's messaging_providers.provider_name. Empty: the provider of the control plane's Agents entry whose Address
    /// names this host (Health:Dns:HostName, one of Health:Dns:HostAddresses, or Grpc:Listen's address) on Grpc:Listen's port.
    /// </summary>
    public string ProviderName { get; set; } = "";

    public IReadOnlyList<string> ExtraBlocklistList() =>
        ExtraBlocklists.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Checks the keys; adds one line per error.</summary>
    public void Validate(List<string> errors)
    {
        foreach (var (key, port) in new[] { ("SmtpPort", SmtpPort), ("SubmissionsPort", SubmissionsPort), ("SubmissionPort", SubmissionPort), ("DkimSinkPort", DkimSinkPort) })
            ConfigChecks.Port(errors, "Doctor:" + key, port);

        if (RelayProbeSource.Length > 0 && !System.Net.IPAddress.TryParse(RelayProbeSource, out _))
            errors.Add($"Doctor:RelayProbeSource = '{RelayProbeSource}' is not valid: use an IP address of this host outside mynetworks, or leave it empty");
        if (!System.Net.IPAddress.TryParse(DkimSinkAddress, out _))
            errors.Add($"Doctor:DkimSinkAddress = '{DkimSinkAddress}' is not valid: use a loopback IP address such as 127.0.0.1");
        if (DkimProbeWait < TimeSpan.FromSeconds(1) || DkimProbeWait > TimeSpan.FromMinutes(10))
            errors.Add($"Doctor:DkimProbeWait = {DkimProbeWait} is not valid: use 00:00:01 to 00:10:00");
        if (Timeout < TimeSpan.FromMilliseconds(100) || Timeout > TimeSpan.FromMinutes(1))
            errors.Add($"Doctor:Timeout = {Timeout} is not valid: use 00:00:00.1 to 00:01:00");
        if (MinimumFreeDiskRatio is < 0 or >= 1)
            errors.Add($"Doctor:MinimumFreeDiskRatio = {MinimumFreeDiskRatio} is not valid: use 0 to 0.99");
        if (MinimumAvailableMemoryMiB < 0)
            errors.Add($"Doctor:MinimumAvailableMemoryMiB = {MinimumAvailableMemoryMiB} is not valid: use 0 or more");
        if (ControlPlaneUrl.Trim().Length > 0
            && (!Uri.TryCreate(ControlPlaneUrl.Trim(), UriKind.Absolute, out var cp) || cp.Scheme is not ("http" or "https") || cp.Query.Length > 0))
            errors.Add($"Doctor:ControlPlaneUrl = '{ControlPlaneUrl}' is not valid: use the control plane's HTTP address, e.g. http://cp.internal:9170, or leave it empty");
        if (ProviderName.Length > 50)
            errors.Add($"Doctor:ProviderName = '{ProviderName}' is not valid: provider_name has at most 50 characters");
        if (CertificateMinimumDays is < 0 or > 365)
            errors.Add($"Doctor:CertificateMinimumDays = {CertificateMinimumDays} is not valid: use 0 to 365");
    }
}
