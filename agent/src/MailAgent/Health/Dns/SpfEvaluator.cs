using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace MailAgent.Health.Dns;

/// <summary>RFC 7208 results.</summary>
internal enum SpfResult
{
    Pass,
    Fail,
    SoftFail,
    Neutral,
    None,
    PermError,
    TempError,
}

/// <summary>
/// An SPF result, the words that explain it to an operator, and the domain's own explanation
/// (the expanded <c>exp=</c> text; null when the result is not fail or the domain gives none, so the
/// receiver's default applies).
/// </summary>
internal readonly record struct SpfVerdict(SpfResult Result, string Reason, string? Explanation = null);

/// <summary>
/// check_host() of RFC 7208: every mechanism and modifier, macros (section 7) in domain-specs and in
/// explanations, the 10-lookup and 2-void-lookup limits, and the syntax rules that make a record a
/// permerror wherever the error sits. Passes the RFC 7208 conformance suite (tests/data/spf-rfc7208-cases.json).
/// </summary>
internal sealed partial class SpfEvaluator(IDnsLookup dns, TimeProvider? time = null, string receiver = "unknown")
{
    private const int LookupLimit = 10;
    private const int VoidLookupLimit = 2;
    private const int MxNameLimit = 10;
    private const int PtrNameLimit = 10;
    private const int MaxDomainLength = 253;

    /// <summary>Evaluates <paramref name="domain"/>'s SPF policy for mail from postmaster@<paramref name="domain"/> sent by <paramref name="address"/>.</summary>
    public Task<SpfVerdict> CheckHostAsync(IPAddress address, string domain, CancellationToken cancellationToken) =>
        CheckHostAsync(address, domain, "postmaster@" + domain.TrimEnd('.'), domain, cancellationToken);

    /// <summary>
    /// check_host() for the MAIL FROM identity: an empty reverse path checks the HELO name as
    /// postmaster@helo, and an empty local part counts as "postmaster" (RFC 7208 2.4, 4.3).
    /// </summary>
    public Task<SpfVerdict> CheckMailFromAsync(IPAddress address, string mailFrom, string helo, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(mailFrom))
            return CheckHostAsync(address, helo, "postmaster@" + helo, helo, cancellationToken);
        int at = mailFrom.LastIndexOf('@');
        string domain = at < 0 ? mailFrom : mailFrom[(at + 1)..];
        string local = at <= 0 ? "postmaster" : mailFrom[..at];
        return CheckHostAsync(address, domain, local + "@" + domain, helo, cancellationToken);
    }

    /// <summary>check_host(ip, domain, sender) with the HELO name for the %{h} macro.</summary>
    public Task<SpfVerdict> CheckHostAsync(IPAddress address, string domain, string sender, string helo, CancellationToken cancellationToken)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        var context = new MacroContext(address, sender, helo, receiver, (time ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds());
        return new Evaluation(dns, context, cancellationToken).CheckAsync(domain.TrimEnd('.'));
    }

    /// <summary>The values macros expand to, apart from the current domain.</summary>
    private sealed record MacroContext(IPAddress Address, string Sender, string Helo, string Receiver, long Timestamp)
    {
        public string LocalPart => Sender[..Math.Max(0, Sender.LastIndexOf('@'))] is { Length: > 0 } local ? local : "postmaster";

        public string SenderDomain => Sender[(Sender.LastIndexOf('@') + 1)..];
    }

    private sealed class Evaluation(IDnsLookup dns, MacroContext context, CancellationToken cancellationToken)
    {
        private IPAddress Address => context.Address;

        private int _lookups;
        private int _voids;

        public async Task<SpfVerdict> CheckAsync(string domain)
        {
            // RFC 7208 4.3: a malformed or single-label domain has no policy.
            if (!IsValidHostName(domain))
                return new(SpfResult.None, $"'{domain}' is not a valid multi-label domain name, so it has no SPF policy");
            var txt = await dns.TxtAsync(domain, cancellationToken);
            if (txt.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
                return new(SpfResult.TempError, $"cannot read the SPF record of {domain}: {txt.Detail}");
            var records = txt.Records.Where(IsSpf).ToArray();
            if (records.Length == 0)
                return new(SpfResult.None, $"{domain} has no SPF record (TXT \"v=spf1 …\")");
            if (records.Length > 1)
                return new(SpfResult.PermError, $"{domain} has {records.Length} SPF records; receivers treat that as an error (RFC 7208 4.5)");

            string record = records[0];
            if (SpfRecord.Parse(record, out var error) is not { } parsed)
                return new(SpfResult.PermError, $"the SPF record of {domain} is not valid: {error} (\"{Printable(record)}\")");

            foreach (var mechanism in parsed.Mechanisms)
            {
                var (matched, failure) = await MatchAsync(mechanism, domain);
                if (failure is { } f)
                    return f;
                if (!matched)
                    continue;
                var result = Qualifier(mechanism.Qualifier);
                string reason = $"'{mechanism.Text}' in the SPF record of {domain} {Verb(result)} {Address}";
                string? explanation = result == SpfResult.Fail && parsed.Explanation is { } exp ? await ExplainAsync(exp, domain) : null;
                return new(result, reason, explanation);
            }

            if (parsed.Redirect is not { } redirect)
                return new(SpfResult.Neutral, $"no term of the SPF record of {domain} matches {Address} (neutral: \"{record}\")");
            if (++_lookups > LookupLimit)
                return TooMany(domain);
            string target = await ExpandDomainAsync(redirect, domain);
            var redirected = await CheckAsync(target);
            return redirected.Result == SpfResult.None
                ? new(SpfResult.PermError, $"redirect={redirect.Text} in the SPF record of {domain} leads to no SPF record: {redirected.Reason}")
                : redirected;
        }

        /// <summary>Whether a mechanism matches; an error verdict ends the evaluation.</summary>
        private async Task<(bool Matched, SpfVerdict? Error)> MatchAsync(Mechanism mechanism, string domain)
        {
            switch (mechanism.Kind)
            {
                case MechanismKind.All:
                    return (true, null);

                case MechanismKind.Ip4:
                case MechanismKind.Ip6:
                    return (Address.AddressFamily == mechanism.Network!.AddressFamily
                        && SameNetwork(Address, mechanism.Network, Address.AddressFamily == AddressFamily.InterNetwork ? mechanism.Prefix4 : mechanism.Prefix6), null);

                case MechanismKind.A:
                {
                    if (++_lookups > LookupLimit)
                        return (false, TooMany(domain));
                    string target = mechanism.Domain is { } spec ? await ExpandDomainAsync(spec, domain) : domain;
                    var found = await AddressesAsync(target, mechanism, domain, countVoid: true);
                    return found.Error != null ? (false, found.Error) : (found.Addresses.Any(a => InNetwork(a, mechanism)), null);
                }

                case MechanismKind.Mx:
                {
                    if (++_lookups > LookupLimit)
                        return (false, TooMany(domain));
                    string target = mechanism.Domain is { } spec ? await ExpandDomainAsync(spec, domain) : domain;
                    var mx = IsQueryable(target) ? await dns.MxAsync(target, cancellationToken) : NotAName<string>(target);
                    if (Failure(mx, mechanism, domain, countVoid: true) is { } failed)
                        return (false, failed);
                    if (mx.Records.Count > MxNameLimit)
                        return (false, new(SpfResult.PermError, $"'{mechanism.Text}' in the SPF record of {domain}: {target} has {mx.Records.Count} MX records, more than the {MxNameLimit} allowed (RFC 7208 4.6.4)"));
                    foreach (var host in mx.Records.Where(h => h.Length > 0))
                    {
                        var found = await AddressesAsync(host, mechanism, domain, countVoid: false);
                        if (found.Error != null)
                            return (false, found.Error);
                        if (found.Addresses.Any(a => InNetwork(a, mechanism)))
                            return (true, null);
                    }

                    return (false, null);
                }

                case MechanismKind.Ptr:
                {
                    if (++_lookups > LookupLimit)
                        return (false, TooMany(domain));
                    string target = mechanism.Domain is { } spec ? await ExpandDomainAsync(spec, domain) : domain;
                    // A failed PTR or forward lookup is no match, not an error (RFC 7208 5.5).
                    foreach (string name in await ValidatedNamesAsync())
                    {
                        if (IsSameOrSubdomain(name, target))
                            return (true, null);
                    }

                    return (false, null);
                }

                case MechanismKind.Exists:
                {
                    if (++_lookups > LookupLimit)
                        return (false, TooMany(domain));
                    string target = await ExpandDomainAsync(mechanism.Domain!, domain);
                    // exists: always asks for A, whatever the client's address family (RFC 7208 5.7).
                    var a = IsQueryable(target) ? await dns.AddressesAsync(target, AddressFamily.InterNetwork, cancellationToken) : NotAName<IPAddress>(target);
                    if (Failure(a, mechanism, domain, countVoid: true) is { } failed)
                        return (false, failed);
                    return (a.Records.Count > 0, null);
                }

                case MechanismKind.Include:
                {
                    if (++_lookups > LookupLimit)
                        return (false, TooMany(domain));
                    string target = await ExpandDomainAsync(mechanism.Domain!, domain);
                    var inner = await CheckAsync(target);
                    return inner.Result switch
                    {
                        SpfResult.Pass => (true, null),
                        SpfResult.Fail or SpfResult.SoftFail or SpfResult.Neutral => (false, null),
                        SpfResult.None => (false, new(SpfResult.PermError, $"'{mechanism.Text}' in the SPF record of {domain}: {inner.Reason}")),
                        _ => (false, inner with { Explanation = null }),
                    };
                }

                default:
                    throw new InvalidOperationException($"mechanism kind {mechanism.Kind}");
            }
        }

        /// <summary>The PTR names of the address whose A/AAAA records lead back to it (at most 10 are tried).</summary>
        private async Task<List<string>> ValidatedNamesAsync()
        {
            var validated = new List<string>();
            var ptr = await dns.PtrAsync(Address, cancellationToken);
            foreach (string host in ptr.Records.Take(PtrNameLimit))
            {
                string name = host.TrimEnd('.');
                if (!IsQueryable(name))
                    continue;
                var forward = await dns.AddressesAsync(name, Address.AddressFamily, cancellationToken);
                if (forward.Records.Contains(Address))
                    validated.Add(name);
            }

            return validated;
        }

        private async Task<(IReadOnlyList<IPAddress> Addresses, SpfVerdict? Error)> AddressesAsync(string host, Mechanism mechanism, string domain, bool countVoid)
        {
            host = host.TrimEnd('.');
            var found = IsQueryable(host) ? await dns.AddressesAsync(host, Address.AddressFamily, cancellationToken) : NotAName<IPAddress>(host);
            return Failure(found, mechanism, domain, countVoid) is { } failed ? ([], failed) : (found.Records, null);
        }

        /// <summary>A lookup that failed (temperror), or one void lookup too many (permerror); null when evaluation goes on.</summary>
        private SpfVerdict? Failure<T>(DnsLookupResult<T> result, Mechanism mechanism, string domain, bool countVoid)
        {
            if (result.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
                return new(SpfResult.TempError, $"'{mechanism.Text}' in the SPF record of {domain}: {result.Detail}");
            if (countVoid && result.IsVoid && ++_voids > VoidLookupLimit)
                return new(SpfResult.PermError, $"the SPF record of {domain} needs more than {VoidLookupLimit} lookups that find nothing (RFC 7208 4.6.4); the last was for '{mechanism.Text}'");
            return null;
        }

        private bool InNetwork(IPAddress candidate, Mechanism mechanism) =>
            candidate.AddressFamily == Address.AddressFamily
            && SameNetwork(Address, candidate, Address.AddressFamily == AddressFamily.InterNetwork ? mechanism.Prefix4 : mechanism.Prefix6);

        /// <summary>
        /// The explanation of a fail: the TXT record the exp= domain names, expanded. Any problem
        /// (no record, several, a DNS error, bad syntax) means no explanation (RFC 7208 6.2); the
        /// lookup does not count against the limits.
        /// </summary>
        private async Task<string?> ExplainAsync(MacroString spec, string domain)
        {
            string target = await ExpandDomainAsync(spec, domain);
            if (!IsQueryable(target))
                return null;
            var txt = await dns.TxtAsync(target, cancellationToken);
            if (txt.Status != DnsLookupStatus.Found || txt.Records.Count != 1)
                return null;
            string text = txt.Records[0];
            if (text.Any(c => c is < ' ' or > '~'))
                return null;
            var explain = MacroString.Parse(text, explanation: true, out _);
            return explain == null ? null : await ExpandAsync(explain, domain);
        }

        private async Task<string> ExpandDomainAsync(MacroString spec, string domain)
        {
            string expanded = (await ExpandAsync(spec, domain)).TrimEnd('.');
            // RFC 7208 7.3: too long a name loses labels from the left until it fits.
            while (expanded.Length > MaxDomainLength && expanded.IndexOf('.', StringComparison.Ordinal) is var dot and >= 0)
                expanded = expanded[(dot + 1)..];
            return expanded;
        }

        private async Task<string> ExpandAsync(MacroString macro, string domain)
        {
            var text = new StringBuilder();
            foreach (var token in macro.Tokens)
            {
                if (token.Literal is { } literal)
                {
                    text.Append(literal);
                    continue;
                }

                string value = char.ToLowerInvariant(token.Letter) switch
                {
                    's' => context.Sender,
                    'l' => context.LocalPart,
                    'o' => context.SenderDomain,
                    'd' => domain,
                    'i' => DottedAddress(Address),
                    'p' => await ValidatedNameAsync(domain),
                    'v' => Address.AddressFamily == AddressFamily.InterNetwork ? "in-addr" : "ip6",
                    'h' => context.Helo,
                    'c' => Address.ToString(),
                    'r' => context.Receiver,
                    't' => context.Timestamp.ToString(CultureInfo.InvariantCulture),
                    _ => throw new InvalidOperationException($"macro letter {token.Letter}"),
                };
                var parts = value.Split(token.Delimiters.Length == 0 ? ['.'] : token.Delimiters.ToCharArray());
                if (token.Reverse)
                    Array.Reverse(parts);
                if (token.Keep > 0 && token.Keep < parts.Length)
                    parts = parts[^token.Keep..];
                string joined = string.Join('.', parts);
                text.Append(char.IsUpper(token.Letter) ? Uri.EscapeDataString(joined) : joined);
            }

            return text.ToString();
        }

        /// <summary>%{p}: a validated name of the address, the current domain or a subdomain of it first; "unknown" when none.</summary>
        private async Task<string> ValidatedNameAsync(string domain)
        {
            var names = await ValidatedNamesAsync();
            return names.FirstOrDefault(n => IsSameOrSubdomain(n, domain)) ?? names.FirstOrDefault() ?? "unknown";
        }

        private static SpfVerdict TooMany(string domain) =>
            new(SpfResult.PermError, $"the SPF policy of {domain} needs more than {LookupLimit} DNS lookups (RFC 7208 4.6.4); receivers treat it as an error");
    }

    /// <summary>A name a macro produced that cannot be a DNS name answers like a name that does not exist.</summary>
    private static DnsLookupResult<T> NotAName<T>(string name) =>
        new(DnsLookupStatus.NxDomain, [], $"'{name}' is not a valid DNS name");

    private static bool IsQueryable(string name)
    {
        if (name.Length == 0 || name.Length > MaxDomainLength)
            return false;
        foreach (var label in name.Split('.'))
        {
            if (label.Length is 0 or > 63)
                return false;
        }

        return true;
    }

    /// <summary>RFC 7208 4.3: labels of 1 to 63 characters, at least two of them, and a top label that could be one.</summary>
    private static bool IsValidHostName(string domain)
    {
        if (!IsQueryable(domain))
            return false;
        int dot = domain.LastIndexOf('.');
        return dot > 0 && IsTopLabel(domain.AsSpan(dot + 1));
    }

    private static bool IsSameOrSubdomain(string name, string domain)
    {
        name = name.TrimEnd('.');
        domain = domain.TrimEnd('.');
        return name.Equals(domain, StringComparison.OrdinalIgnoreCase) || name.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>%{i}: dotted quad, or 32 dot-separated nibbles for IPv6 (RFC 7208 7.3).</summary>
    private static string DottedAddress(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
            return address.ToString();
        var bytes = address.GetAddressBytes();
        var text = new StringBuilder(63);
        foreach (byte b in bytes)
        {
            if (text.Length > 0)
                text.Append('.');
            text.Append("0123456789abcdef"[b >> 4]).Append('.').Append("0123456789abcdef"[b & 0xF]);
        }

        return text.ToString();
    }

    private static string Printable(string record)
    {
        var text = new StringBuilder(record.Length);
        foreach (char c in record)
        {
            if (c is >= ' ' and <= '~')
                text.Append(c);
            else
                text.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
        }

        return text.ToString();
    }

    private static bool IsSpf(string record) =>
        record.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (record.Length == 6 || record[6] == ' ');

    private static bool IsTopLabel(ReadOnlySpan<char> label)
    {
        // toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
        if (label.Length == 0 || !char.IsAsciiLetterOrDigit(label[0]) || !char.IsAsciiLetterOrDigit(label[^1]))
            return false;
        bool letter = false;
        bool dash = false;
        foreach (char c in label)
        {
            if (c == '-')
                dash = true;
            else if (char.IsAsciiLetter(c))
                letter = true;
            else if (!char.IsAsciiDigit(c))
                return false;
        }

        return letter || dash;
    }

    private static SpfResult Qualifier(char qualifier) => qualifier switch
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

    [GeneratedRegex(@"(?:/[0-9]+)?(?://[0-9]+)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex CidrSuffix();

    private enum MechanismKind
    {
        All,
        Include,
        A,
        Mx,
        Ptr,
        Ip4,
        Ip6,
        Exists,
    }

    /// <summary>One parsed mechanism: its qualifier, target domain-spec, network and prefix lengths.</summary>
    private sealed record Mechanism(string Text, char Qualifier, MechanismKind Kind, MacroString? Domain, IPAddress? Network, int Prefix4, int Prefix6);

    /// <summary>A record checked whole before evaluation: a syntax error anywhere is a permerror (RFC 7208 4.6).</summary>
    private sealed record SpfRecord(IReadOnlyList<Mechanism> Mechanisms, MacroString? Redirect, MacroString? Explanation)
    {
        public static SpfRecord? Parse(string record, out string error)
        {
            error = "";
            foreach (char c in record)
            {
                if (c is < ' ' or > '~')
                {
                    error = $"it has the character \\x{(int)c:x2}, and SPF records are printable ASCII";
                    return null;
                }
            }

            var mechanisms = new List<Mechanism>();
            MacroString? redirect = null;
            MacroString? explanation = null;
            foreach (string term in record.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
            {
                int eq = term.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0 && IsModifierName(term.AsSpan(0, eq)))
                {
                    string name = term[..eq];
                    string value = term[(eq + 1)..];
                    bool isRedirect = name.Equals("redirect", StringComparison.OrdinalIgnoreCase);
                    bool isExp = name.Equals("exp", StringComparison.OrdinalIgnoreCase);
                    if (isRedirect || isExp)
                    {
                        if ((isRedirect ? redirect : explanation) != null)
                        {
                            error = $"it has two {name}= modifiers";
                            return null;
                        }

                        if (DomainSpec(value, out error) is not { } spec)
                        {
                            error = $"'{term}': {error}";
                            return null;
                        }

                        if (isRedirect)
                            redirect = spec;
                        else
                            explanation = spec;
                    }
                    else if (MacroString.Parse(value, explanation: true, out error) == null)
                    {
                        // Unknown modifiers are ignored, but only when they are well formed.
                        error = $"'{term}': {error}";
                        return null;
                    }

                    continue;
                }

                if (ParseMechanism(term, out error) is not { } mechanism)
                {
                    error = $"'{term}': {error}";
                    return null;
                }

                mechanisms.Add(mechanism);
            }

            return new(mechanisms, redirect, explanation);
        }

        private static Mechanism? ParseMechanism(string term, out string error)
        {
            error = "";
            char qualifier = term[0] is '+' or '-' or '~' or '?' ? term[0] : '+';
            string body = term[0] is '+' or '-' or '~' or '?' ? term[1..] : term;
            int sep = body.IndexOfAny([':', '/']);
            string name = (sep < 0 ? body : body[..sep]).ToLowerInvariant();
            string rest = sep < 0 ? "" : body[sep..];
            switch (name)
            {
                case "all":
                    if (rest.Length > 0)
                        return Bad("all takes no argument", out error);
                    return new(term, qualifier, MechanismKind.All, null, null, 32, 128);

                case "include":
                case "exists":
                {
                    if (!rest.StartsWith(':'))
                        return Bad($"{name} needs ':' and a domain", out error);
                    if (DomainSpec(rest[1..], out error) is not { } spec)
                        return null;
                    return new(term, qualifier, name == "include" ? MechanismKind.Include : MechanismKind.Exists, spec, null, 32, 128);
                }

                case "a":
                case "mx":
                {
                    MacroString? spec = null;
                    string cidr = rest;
                    if (rest.StartsWith(':'))
                    {
                        var (domain, suffix) = SplitCidr(rest[1..]);
                        cidr = suffix;
                        if ((spec = DomainSpec(domain, out error)) == null)
                            return null;
                    }

                    if (!TryCidr(cidr, out int v4, out int v6))
                        return Bad($"'{cidr}' is not a prefix length (/0-32, //0-128)", out error);
                    return new(term, qualifier, name == "a" ? MechanismKind.A : MechanismKind.Mx, spec, null, v4, v6);
                }

                case "ptr":
                {
                    MacroString? spec = null;
                    if (rest.StartsWith('/'))
                        return Bad("ptr takes no prefix length", out error);
                    if (rest.StartsWith(':') && (spec = DomainSpec(rest[1..], out error)) == null)
                        return null;
                    return new(term, qualifier, MechanismKind.Ptr, spec, null, 32, 128);
                }

                case "ip4":
                case "ip6":
                {
                    if (!rest.StartsWith(':'))
                        return Bad($"{name} needs ':' and a network", out error);
                    string argument = rest[1..];
                    int slash = argument.IndexOf('/', StringComparison.Ordinal);
                    string ip = slash < 0 ? argument : argument[..slash];
                    bool four = name == "ip4";
                    int max = four ? 32 : 128;
                    int prefix = max;
                    if (!(four ? TryParseIp4(ip, out var network) : TryParseIp6(ip, out network))
                        || (slash >= 0 && !TryPrefix(argument[(slash + 1)..], max, out prefix)))
                        return Bad($"'{argument}' is not an {(four ? "IPv4" : "IPv6")} network", out error);
                    return new(term, qualifier, four ? MechanismKind.Ip4 : MechanismKind.Ip6, null, network, four ? prefix : 32, four ? 128 : prefix);
                }

                default:
                    return Bad($"'{name}' is not an SPF mechanism", out error);
            }
        }

        /// <summary>Splits "domain/24//64" into the domain and the dual-cidr suffix that ends it (possibly empty).</summary>
        private static (string Domain, string Cidr) SplitCidr(string text)
        {
            var match = CidrSuffix().Match(text);
            return (text[..match.Index], match.Value);
        }

        private static bool TryParseIp4(string text, out IPAddress network)
        {
            network = IPAddress.None;
            var parts = text.Split('.');
            if (parts.Length != 4 || parts.Any(p => p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit) || int.Parse(p, CultureInfo.InvariantCulture) > 255))
                return false;
            network = IPAddress.Parse(text);
            return true;
        }

        private static bool TryParseIp6(string text, out IPAddress network)
        {
            network = IPAddress.IPv6None;
            if (!text.Contains(':', StringComparison.Ordinal) || text.AsSpan().IndexOfAny("%[]") >= 0
                || !IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6)
                return false;
            network = parsed;
            return true;
        }

        /// <summary>domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand.</summary>
        private static MacroString? DomainSpec(string text, out string error)
        {
            if (text.Length == 0)
                return Bad<MacroString>("the domain is empty", out error);
            if (MacroString.Parse(text, explanation: false, out error) is not { } spec)
                return null;
            if (spec.Tokens[^1].Letter != '\0')
                return spec;
            string trimmed = text.EndsWith('.') ? text[..^1] : text;
            int dot = trimmed.LastIndexOf('.');
            if (dot < 0 || !IsTopLabel(trimmed.AsSpan(dot + 1)))
                return Bad<MacroString>($"'{text}' does not end in a valid top-level label", out error);
            return spec;
        }

        private static bool IsModifierName(ReadOnlySpan<char> name)
        {
            if (!char.IsAsciiLetter(name[0]))
                return false;
            foreach (char c in name)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_' and not '.')
                    return false;
            }

            return true;
        }

        private static Mechanism? Bad(string why, out string error) => Bad<Mechanism>(why, out error);

        private static T? Bad<T>(string why, out string error)
            where T : class
        {
            error = why;
            return null;
        }
    }

    /// <summary>One piece of a macro-string: literal text, or a macro with its transformers.</summary>
    private sealed record MacroToken(string? Literal, char Letter, int Keep, bool Reverse, string Delimiters);

    /// <summary>A macro-string (RFC 7208 7.1), checked and split into tokens.</summary>
    private sealed record MacroString(string Text, IReadOnlyList<MacroToken> Tokens)
    {
        private const string Letters = "slodiphv";
        private const string ExplanationLetters = "slodiphvcrt";
        private const string DelimiterChars = ".-+,/_=";

        /// <summary>Parses <paramref name="text"/>; <paramref name="explanation"/> allows c, r, t and spaces (explain-string).</summary>
        public static MacroString? Parse(string text, bool explanation, out string error)
        {
            error = "";
            var tokens = new List<MacroToken>();
            var literal = new StringBuilder();
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (c != '%')
                {
                    if (c is < '!' or > '~' && !(explanation && c == ' '))
                    {
                        error = $"the character \\x{(int)c:x2} is not allowed in a domain-spec";
                        return null;
                    }

                    literal.Append(c);
                    continue;
                }

                if (i + 1 >= text.Length)
                {
                    error = "a '%' ends it; write %% for a percent sign";
                    return null;
                }

                char next = text[++i];
                switch (next)
                {
                    case '%':
                        Flush("%");
                        continue;
                    case '_':
                        Flush(" ");
                        continue;
                    case '-':
                        Flush("%20");
                        continue;
                    case '{':
                        break;
                    default:
                        error = $"'%{next}' is not a macro; use %{{letter}}, %%, %_ or %-";
                        return null;
                }

                int close = text.IndexOf('}', i);
                if (close < 0 || close == i + 1)
                {
                    error = "a macro '%{' is not closed by '}' or has no letter";
                    return null;
                }

                string body = text[(i + 1)..close];
                char letter = body[0];
                if (!(explanation ? ExplanationLetters : Letters).Contains(char.ToLowerInvariant(letter), StringComparison.Ordinal))
                {
                    error = $"'%{{{body}}}' uses the macro letter '{letter}', which is not allowed here";
                    return null;
                }

                int j = 1;
                while (j < body.Length && char.IsAsciiDigit(body[j]))
                    j++;
                int keep = 0;
                if (j > 1 && (!int.TryParse(body.AsSpan(1, j - 1), NumberStyles.None, CultureInfo.InvariantCulture, out keep) || keep == 0))
                {
                    error = $"'%{{{body}}}' keeps zero or too many parts";
                    return null;
                }

                bool reverse = j < body.Length && body[j] is 'r' or 'R';
                if (reverse)
                    j++;
                string delimiters = body[j..];
                if (delimiters.Any(d => !DelimiterChars.Contains(d, StringComparison.Ordinal)))
                {
                    error = $"'%{{{body}}}' has a delimiter outside . - + , / _ =";
                    return null;
                }

                if (literal.Length > 0)
                {
                    tokens.Add(new(literal.ToString(), '\0', 0, false, ""));
                    literal.Clear();
                }

                tokens.Add(new(null, letter, keep, reverse, delimiters));
                i = close;
            }

            if (literal.Length > 0)
                tokens.Add(new(literal.ToString(), '\0', 0, false, ""));
            if (tokens.Count == 0)
                tokens.Add(new("", '\0', 0, false, ""));
            return new(text, tokens);

            void Flush(string escaped)
            {
                // %%, %_ and %- are macro-expands: a domain-spec may end with one.
                if (literal.Length > 0)
                {
                    tokens.Add(new(literal.ToString(), '\0', 0, false, ""));
                    literal.Clear();
                }

                tokens.Add(new(escaped, '%', 0, false, ""));
            }
        }
    }
}
