using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MailAgent.Health.Dns;

/// <summary>RFC 7208 results, plus <see cref="Unsupported"/> for records this evaluator does not evaluate (macros).</summary>
internal enum SpfResult
{
    Pass,
    Fail,
    SoftFail,
    Neutral,
    None,
    PermError,
    TempError,
    Unsupported,
}

/// <summary>An SPF result and the words that explain it.</summary>
internal readonly record struct SpfVerdict(SpfResult Result, string Reason);

/// <summary>
/// check_host() of RFC 7208 for one address: ip4/ip6 (with CIDR), a, mx, ptr, exists, include and
/// redirect, all four qualifiers, the 10-lookup and 2-void-lookup limits. Macros (<c>%{i}</c> …) are
/// not expanded: a term that uses one gives <see cref="SpfResult.Unsupported"/>, and the reason says so.
/// </summary>
internal sealed class SpfEvaluator(IDnsLookup dns)
{
    private const int LookupLimit = 10;
    private const int VoidLookupLimit = 2;
    private const int MxNameLimit = 10;
    private const int PtrNameLimit = 10;

    /// <summary>Evaluates <paramref name="domain"/>'s SPF policy for mail from <paramref name="address"/>.</summary>
    public Task<SpfVerdict> CheckHostAsync(IPAddress address, string domain, CancellationToken cancellationToken)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        return new Evaluation(dns, address, cancellationToken).CheckAsync(domain.TrimEnd('.'));
    }

    private sealed class Evaluation(IDnsLookup dns, IPAddress address, CancellationToken cancellationToken)
    {
        private int _lookups;
        private int _voids;

        public async Task<SpfVerdict> CheckAsync(string domain)
        {
            var txt = await dns.TxtAsync(domain, cancellationToken);
            if (txt.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
                return new(SpfResult.TempError, $"cannot read the SPF record of {domain}: {txt.Detail}");
            var records = txt.Records.Where(IsSpf).ToArray();
            if (records.Length == 0)
                return new(SpfResult.None, $"{domain} has no SPF record (TXT \"v=spf1 …\")");
            if (records.Length > 1)
                return new(SpfResult.PermError, $"{domain} has {records.Length} SPF records; receivers treat that as an error (RFC 7208 4.5)");

            string record = records[0];
            string? redirect = null;
            foreach (var term in record.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
            {
                int eq = term.IndexOf('=', StringComparison.Ordinal);
                int colon = term.IndexOf(':', StringComparison.Ordinal);
                if (eq > 0 && (colon < 0 || eq < colon) && IsName(term.AsSpan(0, eq)))
                {
                    // A modifier: redirect is applied after the mechanisms; exp and unknown ones do not change the result.
                    string name = term[..eq];
                    if (name.Equals("redirect", StringComparison.OrdinalIgnoreCase))
                    {
                        if (redirect != null)
                            return new(SpfResult.PermError, $"the SPF record of {domain} has two redirect= modifiers");
                        redirect = term[(eq + 1)..];
                    }

                    continue;
                }

                var (matched, error) = await MatchAsync(term, domain);
                if (error is { } e)
                    return e;
                if (matched)
                {
                    var result = Qualifier(term[0]);
                    return new(result, $"'{term}' in the SPF record of {domain} {Verb(result)} {address}");
                }
            }

            if (redirect == null)
                return new(SpfResult.Neutral, $"no term of the SPF record of {domain} matches {address} (neutral: \"{record}\")");
            if (redirect.Contains('%', StringComparison.Ordinal))
                return Macro(redirect, domain);
            if (++_lookups > LookupLimit)
                return TooMany(domain);
            var redirected = await CheckAsync(redirect.TrimEnd('.'));
            return redirected.Result == SpfResult.None
                ? new(SpfResult.PermError, $"redirect={redirect} in the SPF record of {domain} leads to no SPF record")
                : redirected;
        }

        /// <summary>Whether a mechanism matches; an error verdict ends the evaluation.</summary>
        private async Task<(bool Matched, SpfVerdict? Error)> MatchAsync(string term, string domain)
        {
            string body = term[0] is '+' or '-' or '~' or '?' ? term[1..] : term;
            int sep = body.IndexOfAny([':', '/']);
            string name = (sep < 0 ? body : body[..sep]).ToLowerInvariant();
            string? argument = sep >= 0 && body[sep] == ':' ? body[(sep + 1)..] : null;
            string cidr = sep >= 0 && body[sep] == '/' ? body[sep..] : "";
            if (argument != null && name is "a" or "mx")
            {
                int slash = argument.IndexOf('/', StringComparison.Ordinal);
                if (slash >= 0)
                {
                    cidr = argument[slash..];
                    argument = argument[..slash];
                }
            }

            if (name is "include" or "a" or "mx" or "ptr" or "exists" && argument != null && argument.Contains('%', StringComparison.Ordinal))
                return (false, Macro(term, domain));

            switch (name)
            {
                case "all":
                    return argument == null && cidr.Length == 0 ? (true, null) : (false, Bad(term, domain));
                case "ip4":
                case "ip6":
                    return MatchIp(term, name, argument, domain);
                case "a":
                {
                    if (!TryCidr(cidr, out int v4, out int v6))
                        return (false, Bad(term, domain));
                    if (++_lookups > LookupLimit)
                        return (false, TooMany(domain));
                    var found = await AddressesAsync(argument ?? domain, term, domain);
                    return found.Error != null ? (false, found.Error) : (found.Addresses.Any(a => InNetwork(a, v4, v6)), null);
                }

                case "mx":
                {
                    if (!TryCidr(cidr, out int v4, out int v6))
                        return (false, Bad(term, domain));
                    if (++_lookups > LookupLimit)
                        return (false, TooMany(domain));
                    string target = argument ?? domain;
                    var mx = await dns.MxAsync(target, cancellationToken);
                    if (Failure(mx, term, domain) is { } failed)
                        return (false, failed);
                    if (mx.Records.Count > MxNameLimit)
                        return (false, new(SpfResult.PermError, $"'{term}' in the SPF record of {domain}: {target} has {mx.Records.Count} MX records, more than the {MxNameLimit} allowed (RFC 7208 4.6.4)"));
                    foreach (var host in mx.Records)
                    {
                        var found = await AddressesAsync(host, term, domain);
                        if (found.Error != null)
                            return (false, found.Error);
                        if (found.Addresses.Any(a => InNetwork(a, v4, v6)))
                            return (true, null);
                    }

                    return (false, null);
                }

                case "ptr":
                {
                    if (cidr.Length > 0)
                        return (false, Bad(term, domain));
                    if (++_lookups > LookupLimit)
                        return (false, TooMany(domain));
                    string target = (argument ?? domain).TrimEnd('.');
                    var ptr = await dns.PtrAsync(address, cancellationToken);
                    // A failed PTR lookup is no match, not an error (RFC 7208 5.5).
                    foreach (var host in ptr.Records.Take(PtrNameLimit))
                    {
                        if (!host.Equals(target, StringComparison.OrdinalIgnoreCase) && !host.EndsWith("." + target, StringComparison.OrdinalIgnoreCase))
                            continue;
                        var forward = await dns.AddressesAsync(host, address.AddressFamily, cancellationToken);
                        if (forward.Records.Contains(address))
                            return (true, null);
                    }

                    return (false, null);
                }

                case "exists":
                {
                    if (string.IsNullOrEmpty(argument) || cidr.Length > 0)
                        return (false, Bad(term, domain));
                    if (++_lookups > LookupLimit)
                        return (false, TooMany(domain));
                    var a = await dns.AddressesAsync(argument, AddressFamily.InterNetwork, cancellationToken);
                    if (Failure(a, term, domain) is { } failed)
                        return (false, failed);
                    return (a.Records.Count > 0, null);
                }

                case "include":
                {
                    if (string.IsNullOrEmpty(argument) || cidr.Length > 0)
                        return (false, Bad(term, domain));
                    if (++_lookups > LookupLimit)
                        return (false, TooMany(domain));
                    var inner = await CheckAsync(argument.TrimEnd('.'));
                    return inner.Result switch
                    {
                        SpfResult.Pass => (true, null),
                        SpfResult.Fail or SpfResult.SoftFail or SpfResult.Neutral => (false, null),
                        SpfResult.None => (false, new(SpfResult.PermError, $"'{term}' in the SPF record of {domain}: {inner.Reason}")),
                        _ => (false, inner),
                    };
                }

                default:
                    return (false, new(SpfResult.PermError, $"the SPF record of {domain} has '{term}', which is not an SPF mechanism"));
            }
        }

        private (bool, SpfVerdict?) MatchIp(string term, string name, string? argument, string domain)
        {
            if (argument == null)
                return (false, Bad(term, domain));
            int slash = argument.IndexOf('/', StringComparison.Ordinal);
            string ip = slash < 0 ? argument : argument[..slash];
            var family = name == "ip4" ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
            int max = family == AddressFamily.InterNetwork ? 32 : 128;
            int prefix = max;
            if (!IPAddress.TryParse(ip, out var network) || network.AddressFamily != family
                || (slash >= 0 && !TryPrefix(argument[(slash + 1)..], max, out prefix)))
                return (false, Bad(term, domain));
            return (address.AddressFamily == family && SameNetwork(address, network, prefix), null);
        }

        private async Task<(IReadOnlyList<IPAddress> Addresses, SpfVerdict? Error)> AddressesAsync(string host, string term, string domain)
        {
            var found = await dns.AddressesAsync(host.TrimEnd('.'), address.AddressFamily, cancellationToken);
            return Failure(found, term, domain) is { } failed ? ([], failed) : (found.Records, null);
        }

        /// <summary>A lookup that failed (temperror), or one void lookup too many (permerror); null when evaluation goes on.</summary>
        private SpfVerdict? Failure<T>(DnsLookupResult<T> result, string term, string domain)
        {
            if (result.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
                return new(SpfResult.TempError, $"'{term}' in the SPF record of {domain}: {result.Detail}");
            if (result.IsVoid && ++_voids > VoidLookupLimit)
                return new(SpfResult.PermError, $"the SPF record of {domain} needs more than {VoidLookupLimit} lookups that find nothing (RFC 7208 4.6.4); the last was for '{term}'");
            return null;
        }

        private bool InNetwork(IPAddress candidate, int v4, int v6) =>
            candidate.AddressFamily == address.AddressFamily && SameNetwork(address, candidate, address.AddressFamily == AddressFamily.InterNetwork ? v4 : v6);

        private static SpfVerdict TooMany(string domain) =>
            new(SpfResult.PermError, $"the SPF policy of {domain} needs more than {LookupLimit} DNS lookups (RFC 7208 4.6.4); receivers treat it as an error");

        private static SpfVerdict Bad(string term, string domain) =>
            new(SpfResult.PermError, $"the SPF record of {domain} has '{term}', which is not valid SPF syntax");

        private static SpfVerdict Macro(string term, string domain) =>
            new(SpfResult.Unsupported, $"the SPF record of {domain} uses a macro in '{term}'; this check does not expand SPF macros, so it cannot tell whether the address is authorised");
    }

    private static bool IsSpf(string record) =>
        record.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (record.Length == 6 || record[6] == ' ');

    private static bool IsName(ReadOnlySpan<char> name)
    {
        if (name.Length == 0 || !char.IsAsciiLetter(name[0]))
            return false;
        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_' and not '.')
                return false;
        }

        return true;
    }

    private static SpfResult Qualifier(char first) => first switch
    {
        '-' => SpfResult.Fail,
        '~' => SpfResult.SoftFail,
        '?' => SpfResult.Neutral,
        _ => SpfResult.Pass,
    };

    private static string Verb(SpfResult result) => result switch
    {
        SpfResult.Pass => "authorises",
        SpfResult.Fail => "rejects (fail)",
        SpfResult.SoftFail => "does not authorise (softfail)",
        _ => "is neutral about",
    };

    /// <summary>"/24", "//64", "/24//64" or ""; false when malformed or out of range.</summary>
    internal static bool TryCidr(string text, out int v4, out int v6)
    {
        v4 = 32;
        v6 = 128;
        if (text.Length == 0)
            return true;
        int dual = text.IndexOf("//", StringComparison.Ordinal);
        string four = dual < 0 ? text : text[..dual];
        string six = dual < 0 ? "" : text[(dual + 2)..];
        if (four.Length > 0 && (four[0] != '/' || !TryPrefix(four[1..], 32, out v4)))
            return false;
        return six.Length == 0 ? dual < 0 : TryPrefix(six, 128, out v6);
    }

    private static bool TryPrefix(string text, int max, out int prefix) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) && prefix <= max && (text.Length == 1 || text[0] != '0');

    /// <summary>Whether the first <paramref name="prefix"/> bits of two addresses of the same family agree.</summary>
    internal static bool SameNetwork(IPAddress a, IPAddress b, int prefix)
    {
        if (a.AddressFamily != b.AddressFamily)
            return false;
        Span<byte> x = stackalloc byte[16];
        Span<byte> y = stackalloc byte[16];
        a.TryWriteBytes(x, out int length);
        b.TryWriteBytes(y, out _);
        prefix = Math.Min(prefix, length * 8);
        int whole = prefix / 8;
        if (!x[..whole].SequenceEqual(y[..whole]))
            return false;
        int rest = prefix % 8;
        if (rest == 0)
            return true;
        int mask = 0xFF << (8 - rest) & 0xFF;
        return (x[whole] & mask) == (y[whole] & mask);
    }
}
