namespace MailControlPlane.Registry;

/// <summary>
/// The control plane's own active SMTP probes of every provider's host (section <c>Probing</c>), so that a broken host
/// cannot vouch for itself. Off by default: the endpoint comes from the routing row (config.smtp_host / smtp_port) or
/// Agents:N:ProbeHost / ProbePort, and the control plane must be allowed to reach it.
/// </summary>
internal sealed class ProbeOptions
{
    public const string SectionName = "Probing";

    public bool Enabled { get; set; }

    /// <summary>Each provider is probed this often, on its own schedule.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A whole probe (connect to QUIT) taking longer fails.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The name the probe greets with.</summary>
    public string EhloName { get; set; } = "mailagent-probe.invalid";

    /// <summary>STARTTLS must be offered and work, and the served certificate must name the host and not be expired.</summary>
    public bool RequireStartTls { get; set; } = true;

    /// <summary>The name the certificate must carry; empty: the endpoint's host.</summary>
    public string CertificateName { get; set; } = "";

    /// <summary>Optional probe credential: AUTH PLAIN after STARTTLS when both are set.</summary>
    public string AuthUser { get; set; } = "";

    public string AuthPassword { get; set; } = "";

    /// <summary>
    /// Design hook for the end-to-end probe (not built yet): a recipient the probe would send a message to, which the
    /// agent then reports delivered or not by its Message-ID. Setting it is refused until it is built.
    /// </summary>
    public string MessageRecipient { get; set; } = "";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Interval < TimeSpan.FromSeconds(1) || Interval > TimeSpan.FromHours(1))
            errors.Add($"{SectionName}:{nameof(Interval)} = {Interval} is not valid: use 00:00:01 to 01:00:00");
        if (Timeout < TimeSpan.FromMilliseconds(100) || Timeout > TimeSpan.FromMinutes(5))
            errors.Add($"{SectionName}:{nameof(Timeout)} = {Timeout} is not valid: use 00:00:00.1 to 00:05:00");
        if (string.IsNullOrWhiteSpace(EhloName) || EhloName.Any(c => c <= ' ' || c > '~'))
            errors.Add($"{SectionName}:{nameof(EhloName)} = '{EhloName}' is not valid: use a host name");
        if (string.IsNullOrEmpty(AuthUser) != string.IsNullOrEmpty(AuthPassword))
            errors.Add($"{SectionName}:{nameof(AuthUser)} and {nameof(AuthPassword)} go together: set both or neither");
        if (!string.IsNullOrEmpty(MessageRecipient))
            errors.Add($"{SectionName}:{nameof(MessageRecipient)} is not built yet (the end-to-end probe message): leave it empty");
        return errors;
    }
}
