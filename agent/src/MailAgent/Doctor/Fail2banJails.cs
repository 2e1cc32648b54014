namespace MailAgent.Doctor;

/// <summary>A jail as fail2ban would configure it: its name, whether enabled, and its filter.</summary>
internal sealed record Fail2banJail(string Name, bool Enabled, string Filter);

/// <summary>
/// Reads fail2ban's jail configuration the way fail2ban does: jail.conf, jail.d/*.conf, jail.local,
/// jail.d/*.local, later files overriding earlier ones key by key, [DEFAULT] applying to every jail.
/// </summary>
internal static class Fail2banJails
{
    public static IReadOnlyList<Fail2banJail> Read(string directory, out IReadOnlyList<string> files)
    {
        var order = new List<string>();
        void Add(string path)
        {
            if (File.Exists(path))
                order.Add(path);
        }

        string d = Path.Combine(directory, "jail.d");
        Add(Path.Combine(directory, "jail.conf"));
        if (Directory.Exists(d))
            order.AddRange(Directory.EnumerateFiles(d, "*.conf").Order(StringComparer.Ordinal));
        Add(Path.Combine(directory, "jail.local"));
        if (Directory.Exists(d))
            order.AddRange(Directory.EnumerateFiles(d, "*.local").Order(StringComparer.Ordinal));
        files = order;

        var sections = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (string file in order)
            Parse(File.ReadAllLines(file), sections);
        var defaults = sections.GetValueOrDefault("DEFAULT") ?? [];
        return sections.Where(s => s.Key is not ("DEFAULT" or "INCLUDES"))
            .Select(s =>
            {
                string enabled = s.Value.GetValueOrDefault("enabled") ?? defaults.GetValueOrDefault("enabled") ?? "false";
                string filter = s.Value.GetValueOrDefault("filter") ?? defaults.GetValueOrDefault("filter") ?? s.Key;
                return new Fail2banJail(s.Key, enabled.Trim().ToLowerInvariant() is "true" or "yes" or "1" or "on", filter.Replace("%(__name__)s", s.Key, StringComparison.Ordinal).Trim());
            })
            .ToArray();
    }

    /// <summary>A jail that bans SASL login failures: Debian's [postfix-sasl] (filter postfix[mode=auth]) or a postfix-sasl filter.</summary>
    public static bool IsPostfixSasl(Fail2banJail jail) =>
        jail.Filter.StartsWith("postfix-sasl", StringComparison.Ordinal)
        || (jail.Filter.StartsWith("postfix", StringComparison.Ordinal) && jail.Filter.Contains("mode=auth", StringComparison.Ordinal));

    private static void Parse(string[] lines, Dictionary<string, Dictionary<string, string>> sections)
    {
        Dictionary<string, string>? current = null;
        string? lastKey = null;
        foreach (string raw in lines)
        {
            if (raw.Length == 0 || raw.TrimStart().StartsWith('#') || raw.TrimStart().StartsWith(';'))
                continue;
            if (char.IsWhiteSpace(raw[0]) && current != null && lastKey != null)
            {
                // A continuation line belongs to the previous key.
                current[lastKey] += "\n" + raw.Trim();
                continue;
            }

            string line = raw.Trim();
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                string name = line[1..^1].Trim();
                if (!sections.TryGetValue(name, out current))
                    sections[name] = current = new(StringComparer.Ordinal);
                lastKey = null;
                continue;
            }

            int eq = line.IndexOfAny(['=', ':']);
            if (current == null || eq <= 0)
                continue;
            lastKey = line[..eq].Trim();
            current[lastKey] = line[(eq + 1)..].Trim();
        }
    }
}
