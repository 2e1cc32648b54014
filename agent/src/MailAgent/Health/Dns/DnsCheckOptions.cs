using System.Net;

namespace MailAgent.Health.Dns;

/// <summary>The <c>dns</c> health check: which records of the mail domain to check, and through which resolver (section <c>Health:Dns</c>).</summary>
internal sealed class DnsCheckOptions
{
    public const string SectionName = "Health:Dns";

    /// <summary>Resolver host:port or address (port 53); empty uses the system's resolvers (/etc/resolv.conf).</summary>
    public string Resolver { get; set; } = "";

    /// <summary>The mail domain whose SPF, DKIM and DMARC records are checked.</summary>
    public string Domain { get; set; } = "";

    /// <summary>This host's public addresses, ';'-separated: SPF must authorise each, and each PTR must name <see cref="HostName"/>.</summary>
    public string HostAddresses { get; set; } = "";

    /// <summary>Postfix's myhostname: the name the PTR records must point to.</summary>
    public string HostName { get; set; } = "";

    /// <summary>DKIM selector: the record checked is &lt;selector&gt;._domainkey.&lt;domain&gt;.</summary>
    public string DkimSelector { get; set; } = "";

    /// <summary>The DKIM private key (PEM), or the public record file opendkim-genkey writes (.txt).</summary>
    public string DkimKeyFile { get; set; } = "";

    /// <summary>How long one DNS query may take before the resolver counts as not answering.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    public IReadOnlyList<string> HostAddressList() =>
        HostAddresses.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The resolver as an endpoint; null for the system's resolvers; false when the text is not an address.</summary>
    public static bool TryParseResolver(string text, out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text))
            return true;
        text = text.Trim();
        // IPAddress.TryParse also takes "[::1]:5353" and drops the port.
        if (!text.StartsWith('[') && IPAddress.TryParse(text, out var bare))
        {
            endpoint = new IPEndPoint(bare, 53);
            return true;
        }

        if (!IPEndPoint.TryParse(text, out var parsed))
            return false;
        endpoint = parsed.Port == 0 ? new IPEndPoint(parsed.Address, 53) : parsed;
        return true;
    }

    /// <summary>Checks the keys when the dns check is on; adds one line per error.</summary>
    public void Validate(HealthOptions health, List<string> errors)
    {
        if (!TryParseResolver(Resolver, out _))
            errors.Add($"Health:Dns:Resolver = '{Resolver}' is not valid: use an IP address with an optional port, e.g. 127.0.0.1:5353 or [::1]:53, or leave it empty for /etc/resolv.conf");
        if (string.IsNullOrWhiteSpace(Domain) || Uri.CheckHostName(Domain.Trim()) != UriHostNameType.Dns)
            errors.Add($"Health:Dns:Domain = '{Domain}' is not valid: use the mail domain, e.g. example.com");
        var addresses = HostAddressList();
        if (addresses.Count == 0)
            errors.Add("Health:Dns:HostAddresses is empty: set this host's public addresses, e.g. 192.0.2.10;2001:db8::10");
        foreach (var a in addresses.Where(a => !IPAddress.TryParse(a, out _)))
            errors.Add($"Health:Dns:HostAddresses has '{a}', which is not valid: use IPv4 or IPv6 addresses separated by ';'");
        if (string.IsNullOrWhiteSpace(HostName) || Uri.CheckHostName(HostName.Trim()) != UriHostNameType.Dns)
            errors.Add($"Health:Dns:HostName = '{HostName}' is not valid: use Postfix's myhostname, e.g. mail.example.com");
        if (string.IsNullOrWhiteSpace(DkimSelector) || Uri.CheckHostName(DkimSelector.Trim()) != UriHostNameType.Dns)
            errors.Add($"Health:Dns:DkimSelector = '{DkimSelector}' is not valid: use the DKIM selector, e.g. mail-2026");
        if (string.IsNullOrWhiteSpace(DkimKeyFile))
            errors.Add("Health:Dns:DkimKeyFile is empty: set the DKIM private key (PEM) or opendkim-genkey's .txt record file");
        else if (DkimKey.TryLoadPublicKey(DkimKeyFile, out _, out var problem) == false)
            errors.Add($"Health:Dns:DkimKeyFile = '{DkimKeyFile}' is not valid: {problem}; use an RSA private key in PEM or the .txt record file");
        if (Timeout < TimeSpan.FromMilliseconds(100) || Timeout > TimeSpan.FromSeconds(30))
            errors.Add($"Health:Dns:Timeout = {Timeout} is not valid: use 00:00:00.1 to 00:00:30");
        else if (Timeout * 2 > health.CheckTimeout)
            errors.Add($"Health:Dns:Timeout = {Timeout} is not valid: use at most half of Health:CheckTimeout ({health.CheckTimeout}), so a resolver that does not answer is reported as such rather than as a check timeout");
    }
}
