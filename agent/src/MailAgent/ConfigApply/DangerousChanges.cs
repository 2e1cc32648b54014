using System.Text.RegularExpressions;

namespace MailAgent.ConfigApply;

/// <summary>
/// The second gate of ApplyConfig, after the allow-list: changes that let a write client take
/// over mail flow silently are refused unless their parameter is on ConfigApply:AllowDangerous.
/// Dangerous are: parameters that redirect or copy mail (relayhost, transports, content filters,
/// milters, header/body checks, BCC and alias maps); values that send mail data to another
/// service (remote lookup tables, policy services, milter sockets); TLS downgrades (a lower
/// security level, weaker protocols or cipher grades than now); and values naming a file outside
/// the Postfix configuration directory (or with <c>..</c>, or under another <c>$directory</c>).
/// </summary>
internal static partial class DangerousChanges
{
    /// <summary>Parameters whose value decides where mail goes, or who else sees it.</summary>
    private static readonly HashSet<string> RedirectingNames = new(StringComparer.Ordinal)
    {
        "relayhost", "relay_transport", "default_transport", "transport_maps", "sender_dependent_relayhost_maps",
        "sender_dependent_default_transport_maps", "content_filter", "always_bcc", "sender_bcc_maps", "recipient_bcc_maps",
        "virtual_alias_maps", "virtual_alias_domains", "canonical_maps", "sender_canonical_maps", "recipient_canonical_maps",
        "fallback_relay", "smtp_fallback_relay", "local_transport", "virtual_transport", "mailbox_transport", "mailbox_command",
        "fallback_transport", "luser_relay", "smtp_tls_policy_maps", "smtpd_proxy_filter", "mynetworks", "relay_domains",
    };

    private static readonly string[] RedirectingSuffixes = ["_milters", "_checks"];

    private static readonly string[] RemoteTableTypes =
        ["tcp:", "socketmap:", "ldap:", "mysql:", "pgsql:", "sqlite:", "memcache:", "nis:", "nisplus:", "inet:", "unix:", "check_policy_service"];

    private static readonly string[] SecurityLevels = ["none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure"];
    private static readonly string[] CipherGrades = ["null", "export", "low", "medium", "high"];
    private static readonly string[] Protocols = ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
    private const int FirstStrongProtocol = 4;

    /// <summary>Why each change in <paramref name="diff"/> is dangerous (empty: none is, or each is allowed).</summary>
    /// <param name="defaults">postconf -d: the value a removed or never-set parameter has.</param>
    public static List<string> Problems(IReadOnlyList<ConfigChange> diff, IReadOnlyDictionary<string, string> defaults, string configDirectory, AllowList allowDangerous)
    {
        var problems = new List<string>();
        foreach (var change in diff)
        {
            if (allowDangerous.Allows(change.Name))
                continue;
            string oldValue = change.OldValue.Length > 0 ? change.OldValue : defaults.GetValueOrDefault(change.Name, "");
            string newValue = change.Removed ? defaults.GetValueOrDefault(change.Name, "") : change.NewValue;
            if (Problem(change.Name, oldValue, newValue, change.Removed, configDirectory) is { } problem)
                problems.Add($"{change.Name}: {problem}; only a parameter on ConfigApply:AllowDangerous may be changed so");
        }

        return problems;
    }

    /// <summary>Why changing <paramref name="name"/> from <paramref name="oldValue"/> to <paramref name="newValue"/> is dangerous, or null.</summary>
    public static string? Problem(string name, string oldValue, string newValue, bool removed, string configDirectory)
    {
        if (RedirectingNames.Contains(name) || RedirectingSuffixes.Any(s => name.EndsWith(s, StringComparison.Ordinal)))
            return $"it decides where mail goes or who else reads it, so {(removed ? "removing" : "setting")} it can redirect or expose mail";
        if (name.EndsWith("_tls_security_level", StringComparison.Ordinal) && Rank(SecurityLevels, newValue, -1) < Rank(SecurityLevels, oldValue, SecurityLevels.Length))
            return $"'{newValue}' is a TLS downgrade from '{oldValue}'";
        if ((name.EndsWith("_tls_ciphers", StringComparison.Ordinal) || name.EndsWith("_tls_mandatory_ciphers", StringComparison.Ordinal))
            && Rank(CipherGrades, newValue, -1) < Rank(CipherGrades, oldValue, CipherGrades.Length))
            return $"cipher grade '{newValue}' is a TLS downgrade from '{oldValue}'";
        if ((name.EndsWith("_tls_protocols", StringComparison.Ordinal) || name.EndsWith("_tls_mandatory_protocols", StringComparison.Ordinal))
            && WeakProtocols(newValue).Except(WeakProtocols(oldValue)).ToList() is { Count: > 0 } weaker)
            return $"'{newValue}' enables {string.Join(", ", weaker)}, a TLS downgrade";
        if (RemoteTableTypes.FirstOrDefault(t => newValue.Contains(t, StringComparison.Ordinal)) is { } remote)
            return $"'{remote.TrimEnd(':')}' sends mail data (addresses, headers) to another service";
        if (FileOutside(newValue, configDirectory) is { } file)
            return $"'{newValue}' names {file}, outside the Postfix configuration directory {configDirectory}";
        return null;
    }

    /// <summary>The first path the value names outside <paramref name="configDirectory"/>, or null.</summary>
    public static string? FileOutside(string value, string configDirectory)
    {
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(configDirectory)) + "/";
        foreach (Match m in AbsolutePath().Matches(value))
        {
            string path = m.Groups[1].Value;
            if (path.Contains("/..", StringComparison.Ordinal) || !Path.GetFullPath(path).StartsWith(root, StringComparison.Ordinal))
                return path;
        }

        foreach (Match m in VariablePath().Matches(value))
        {
            string path = m.Value;
            if (m.Groups[1].Value != "config_directory" || path.Contains("/..", StringComparison.Ordinal))
                return path;
        }

        return null;
    }

    // Empty is the weakest (Postfix's empty level is none); a word we cannot rank (e.g. a $variable) ranks as
    // <paramref name="unknown"/>: weakest for the new value, strongest for the old, so doubt counts as a downgrade.
    private static int Rank(string[] order, string value, int unknown)
    {
        string v = value.Trim().ToLowerInvariant();
        if (v.Length == 0)
            return 0;
        int i = Array.IndexOf(order, v);
        return i < 0 ? unknown : i;
    }

    /// <summary>SSLv2 to TLSv1.1 as enabled by a Postfix protocol list ("&gt;=TLSv1.2", "!SSLv2, !SSLv3", "TLSv1.2 TLSv1.3").</summary>
    public static List<string> WeakProtocols(string value)
    {
        var tokens = value.Split([' ', ',', ':', '\t'], StringSplitOptions.RemoveEmptyEntries);
        int min = 0, max = Protocols.Length - 1;
        var include = new List<int>();
        var exclude = new List<int>();
        foreach (var token in tokens)
        {
            if (token.StartsWith(">=", StringComparison.Ordinal))
                min = Math.Max(min, Index(token[2..]));
            else if (token.StartsWith("<=", StringComparison.Ordinal))
                max = Math.Min(max, Index(token[2..]));
            else if (token.StartsWith('!'))
                exclude.Add(Index(token[1..]));
            else
                include.Add(Index(token));
        }

        var enabled = (include.Count > 0 ? include : Enumerable.Range(0, Protocols.Length)).Where(i => i >= min && i <= max && !exclude.Contains(i));
        return enabled.Where(i => i < FirstStrongProtocol).Distinct().Order().Select(i => Protocols[i]).ToList();

        static int Index(string protocol)
        {
            int i = Array.FindIndex(Protocols, p => string.Equals(p, protocol, StringComparison.OrdinalIgnoreCase));
            return i < 0 ? Protocols.Length : i;
        }
    }

    [GeneratedRegex(@"(?:^|[\s,:{=(])(/[^\s,}]*)")]
    private static partial Regex AbsolutePath();

    [GeneratedRegex(@"\$\{?([a-z_]+)\}?/[^\s,}]*")]
    private static partial Regex VariablePath();
}
