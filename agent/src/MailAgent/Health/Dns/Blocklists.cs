using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MailAgent.Health.Dns;

/// <summary>How a DNS blocklist answered for one address or domain.</summary>
internal enum BlocklistStanding
{
    /// <summary>NXDOMAIN or no A record: not listed.</summary>
    Clean,

    /// <summary>An answer in 127.0.0.0/8 other than the "refused" codes: listed.</summary>
    Listed,

    /// <summary>127.255.255.252/254/255: the list refused the query (public or unregistered resolver, over quota); says nothing about the listing.</summary>
    Refused,

    /// <summary>The resolver failed or did not answer.</summary>
    Unknown,
}

/// <summary>One blocklist answer, with the query asked and the codes returned.</summary>
internal sealed record BlocklistAnswer(string Zone, string Subject, string Query, BlocklistStanding Standing, IReadOnlyList<IPAddress> Codes, string Detail)
{
    public override string ToString() => Standing switch
    {
        BlocklistStanding.Clean => $"{Subject} is not listed on {Zone}",
        BlocklistStanding.Listed => $"{Subject} is LISTED on {Zone} ({string.Join(", ", Codes.Select(c => $"{c}{Meaning(Zone, c)}"))})",
        BlocklistStanding.Refused => $"{Zone} refused the query for {Subject} ({string.Join(", ", Codes)}: the resolver is public, unregistered or over quota), so the listing is unknown",
        _ => $"{Zone} could not be asked about {Subject}: {Detail}",
    };

    private static string Meaning(string zone, IPAddress code)
    {
        if (!zone.Contains("spamhaus", StringComparison.OrdinalIgnoreCase))
            return "";
        var b = code.GetAddressBytes();
        return (b[2], b[3]) switch
        {
            (0, 2) => " SBL",
            (0, 3) => " SBL CSS",
            (0, >= 4 and <= 7) => " XBL exploits",
            (0, 9) => " DROP",
            (0, 10 or 11) => " PBL policy",
            (1, _) => " DBL",
            _ => "",
        };
    }
}

/// <summary>Asks DNS blocklists about an address (reversed octets or nibbles) or a domain, as receivers do.</summary>
internal sealed class BlocklistLookup(IDnsLookup dns)
{
    public async Task<BlocklistAnswer> CheckAddressAsync(IPAddress address, string zone, CancellationToken cancellationToken) =>
        await AskAsync(zone, address.ToString(), $"{Reversed(address)}.{zone.TrimEnd('.')}", cancellationToken);

    public async Task<BlocklistAnswer> CheckDomainAsync(string domain, string zone, CancellationToken cancellationToken) =>
        await AskAsync(zone, domain, $"{domain.TrimEnd('.')}.{zone.TrimEnd('.')}", cancellationToken);

    private async Task<BlocklistAnswer> AskAsync(string zone, string subject, string query, CancellationToken cancellationToken)
    {
        var answer = await dns.AddressesAsync(query, AddressFamily.InterNetwork, cancellationToken);
        if (answer.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
            return new(zone, subject, query, BlocklistStanding.Unknown, [], answer.Detail);
        if (answer.Records.Count == 0)
            return new(zone, subject, query, BlocklistStanding.Clean, [], answer.Status == DnsLookupStatus.NxDomain ? "NXDOMAIN" : "no A record");
        var codes = answer.Records;
        // Spamhaus answers 127.255.255.252 (typo in the query), .254 (public/open resolver) and .255
        // (excessive queries) instead of a listing: a warning about the resolver, not about us.
        bool refused = codes.All(c => c.GetAddressBytes() is [127, 255, 255, 252 or 254 or 255]);
        return new(zone, subject, query, refused ? BlocklistStanding.Refused : BlocklistStanding.Listed, codes, "");
    }

    /// <summary>1.2.3.4 → 4.3.2.1; IPv6 → its 32 nibbles reversed and dot-separated.</summary>
    internal static string Reversed(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        var bytes = address.GetAddressBytes();
        var text = new StringBuilder();
        if (address.AddressFamily == AddressFamily.InterNetwork)
            return string.Join('.', bytes.Reverse());
        for (int i = bytes.Length - 1; i >= 0; i--)
        {
            text.Append("0123456789abcdef"[bytes[i] & 0xF]).Append('.');
            text.Append("0123456789abcdef"[bytes[i] >> 4]).Append('.');
        }

        return text.ToString(0, text.Length - 1);
    }
}

/// <summary>
/// The <c>blocklist</c> health check: each host address on Spamhaus ZEN and the mail domain on DBL,
/// through the configured resolver. A slow check. Listed is unhealthy (receivers reject our mail: the
/// control plane caps the score); a refused or failed query is degraded, since it says nothing about
/// the listing. The result value is the number of listings.
/// </summary>
internal sealed class BlocklistCheck(DnsCheckOptions options, IDnsLookup dns, string zenZone = "zen.spamhaus.org", string dblZone = "dbl.spamhaus.org") : IHealthCheck
{
    private readonly BlocklistLookup _lookup = new(dns);

    public string Name => "blocklist";

    public bool IsSlow => true;

    public async Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        var asks = options.HostAddressList().Select(IPAddress.Parse)
            .Select(a => _lookup.CheckAddressAsync(a, zenZone, cancellationToken))
            .Append(_lookup.CheckDomainAsync(options.Domain.Trim(), dblZone, cancellationToken));
        var answers = await Task.WhenAll(asks);
        int listed = answers.Count(a => a.Standing == BlocklistStanding.Listed);
        string reason = string.Join("; ", answers.OrderByDescending(a => a.Standing == BlocklistStanding.Listed).Select(a => a.ToString()));
        if (listed > 0)
            return HealthCheckResult.Unhealthy(reason, listed);
        return answers.Any(a => a.Standing is BlocklistStanding.Refused or BlocklistStanding.Unknown)
            ? HealthCheckResult.Degraded(reason, 0)
            : HealthCheckResult.Healthy(reason, 0);
    }
}
