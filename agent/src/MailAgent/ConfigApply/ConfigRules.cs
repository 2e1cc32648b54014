using System.Security.Cryptography;

namespace MailAgent.ConfigApply;

/// <summary>Matches parameter names against ConfigApply:AllowedParameters (exact names, or a leading or trailing '*').</summary>
internal sealed class AllowList(IReadOnlyList<string> patterns)
{
    public IReadOnlyList<string> Patterns => patterns;

    public bool Allows(string name)
    {
        foreach (var p in patterns)
        {
            if (p.StartsWith('*') && p.EndsWith('*') && p.Length > 2 && name.Contains(p[1..^1], StringComparison.Ordinal))
                return true;
            if (p.EndsWith('*') && name.StartsWith(p[..^1], StringComparison.Ordinal) && name.Length > p.Length - 1)
                return true;
            if (p.StartsWith('*') && name.EndsWith(p[1..], StringComparison.Ordinal) && name.Length > p.Length - 1)
                return true;
            int star = p.IndexOf('*', StringComparison.Ordinal);
            if (star > 0 && star < p.Length - 1 && p.IndexOf('*', star + 1) < 0
                && name.Length > p.Length - 1 && name.StartsWith(p[..star], StringComparison.Ordinal) && name.EndsWith(p[(star + 1)..], StringComparison.Ordinal))
                return true;
            if (string.Equals(p, name, StringComparison.Ordinal))
                return true;
        }

        return false;
    }

    /// <summary>A name with at most one '*' (at the start, the end, or inside as in smtpd_*_restrictions).</summary>
    public static bool IsValidPattern(string pattern)
    {
        string bare = pattern.Replace("*", "", StringComparison.Ordinal);
        int stars = pattern.Length - bare.Length;
        bool bothEnds = stars == 2 && pattern.StartsWith('*') && pattern.EndsWith('*');
        return bare.Length > 0 && (stars <= 1 || bothEnds) && ConfigRules.IsParameterName(bare);
    }
}

/// <summary>The pure rules of a request: names, values, referenced files, hashes and the diff.</summary>
internal static class ConfigRules
{
    public const int MaxValueLength = 4096;

    /// <summary>Parameters that need <c>postfix stop</c> + <c>start</c>: master binds its sockets only at start.</summary>
    public static readonly string[] RestartParameters = ["inet_interfaces", "inet_protocols"];

    /// <summary>Lower-case letters, digits, '_' and '-' (master.cf service names such as scalemail-backend).</summary>
    public static bool IsParameterName(string name) =>
        name.Length is > 0 and <= 200 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-') && name[0] != '-';

    /// <summary>
    /// Null when the value may be written, else why not. Refused: line breaks and every other control
    /// character (a second line would be a second parameter or a continuation), <c>$(</c> and backticks
    /// (shell command substitution: harmless to Postfix itself, but values reach pipe(8) commands and
    /// scripts; <c>$name</c> and <c>${name}</c> expand exactly like <c>$(name)</c>, so nothing is lost),
    /// and values over <see cref="MaxValueLength"/> characters.
    /// </summary>
    public static string? ValueProblem(string value)
    {
        if (value.Length > MaxValueLength)
            return $"is {value.Length} characters long; at most {MaxValueLength} are accepted";
        foreach (char c in value)
        {
            if (c is '\n' or '\r')
                return "contains a line break; values are single-line";
            if (char.IsControl(c) || c is '\u2028' or '\u2029' or '\u0085')
                return $"contains the control character U+{(int)c:X4}";
        }

        if (value.Contains("$(", StringComparison.Ordinal))
            return "contains '$(' (command substitution syntax); write Postfix expansions as $name or ${name}";
        if (value.Contains('`', StringComparison.Ordinal))
            return "contains a backtick (command substitution syntax)";
        return null;
    }

    /// <summary>
    /// Files a value names: <c>type:/path</c> lookup tables (for indexed types the built file, e.g.
    /// <c>hash:/x</c> needs <c>/x.db</c>) and bare absolute paths. Values with <c>$</c> expansions are
    /// not followed; sockets (<c>inet:</c>, <c>unix:</c>) are not files.
    /// </summary>
    public static IEnumerable<string> ReferencedFiles(string value)
    {
        foreach (var raw in value.Split([' ', ',', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            string token = raw.Trim('{', '}');
            if (token.Contains('$', StringComparison.Ordinal))
                continue;
            while (token.StartsWith("proxy:", StringComparison.Ordinal))
                token = token["proxy:".Length..];
            int colon = token.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                string type = token[..colon];
                string path = token[(colon + 1)..];
                if (!path.StartsWith('/'))
                    continue;
                string? suffix = type switch
                {
                    "hash" or "btree" => ".db",
                    "lmdb" => ".lmdb",
                    "cdb" => ".cdb",
                    "dbm" or "sdbm" => ".pag",
                    "texthash" or "pcre" or "regexp" or "cidr" => "",
                    _ => null,
                };
                if (suffix != null)
                    yield return path + suffix;
            }
            else if (token.StartsWith('/'))
                yield return token;
        }
    }

    public static string Sha256Hex(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>Parses <c>postconf -n</c> / <c>postconf -d</c> output (<c>name = value</c> lines).</summary>
    public static Dictionary<string, string> ParsePostconf(string output)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n'))
        {
            int eq = line.IndexOf(" = ", StringComparison.Ordinal);
            if (eq > 0)
                result[line[..eq].Trim()] = line[(eq + 3)..].TrimEnd('\r');
            else if (line.EndsWith(" =", StringComparison.Ordinal))
                result[line[..^2].Trim()] = "";
        }

        return result;
    }

    /// <summary>What the request changes against the explicit settings (<c>postconf -n</c>); sorted by name.</summary>
    public static List<ConfigChange> Diff(IReadOnlyDictionary<string, string> set, IReadOnlyList<string> remove, IReadOnlyDictionary<string, string> current)
    {
        var diff = new List<ConfigChange>();
        foreach (var (name, value) in set)
        {
            bool had = current.TryGetValue(name, out var old);
            if (!had || !string.Equals(Normalize(old!), Normalize(value), StringComparison.Ordinal))
                diff.Add(new ConfigChange(name, old ?? "", value.Trim(), false));
        }

        foreach (var name in remove.Distinct(StringComparer.Ordinal))
        {
            if (current.TryGetValue(name, out var old))
                diff.Add(new ConfigChange(name, old, "", true));
        }

        diff.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return diff;
    }

    // postconf prints a value with its whitespace runs collapsed; compare the same way.
    private static string Normalize(string value) => string.Join(' ', value.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
}
