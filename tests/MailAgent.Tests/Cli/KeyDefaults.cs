using System.Globalization;
using System.Reflection;

namespace MailAgent.Tests.Cli;

/// <summary>
/// Compares a key table's defaults with the options classes' (found by their SectionName constant):
/// the help page and docs/configuration.md must not promise a default the code does not have.
/// </summary>
internal static class KeyDefaults
{
    /// <summary>"Section:Key: table X, code Y" for each key whose literal default differs from its property's initial value.</summary>
    public static List<string> Mismatches(Assembly daemon, IEnumerable<(string Key, string Default)> keys)
    {
        var sections = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var type in daemon.GetTypes())
        {
            if (type.GetField("SectionName", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field
                && field.GetRawConstantValue() is string name && type.GetConstructor(Type.EmptyTypes) != null && !type.IsAbstract)
                sections.TryAdd(name, Activator.CreateInstance(type)!);
        }

        var problems = new List<string>();
        int compared = 0;
        foreach (var (key, tableDefault) in keys)
        {
            int colon = key.LastIndexOf(':');
            if (!sections.TryGetValue(key[..colon], out var options)
                || options.GetType().GetProperty(key[(colon + 1)..], BindingFlags.Public | BindingFlags.Instance) is not { } property
                || tableDefault.Contains(' ', StringComparison.Ordinal) || tableDefault.Contains("...", StringComparison.Ordinal)
                || (tableDefault.Length > 0 && char.IsUpper(tableDefault[0]) && tableDefault.Contains(':', StringComparison.Ordinal)))
                continue; // prose, or derived from another key (LogTailing:StateDirectory/certificates)
            object? value = property.GetValue(options);
            bool same = value switch
            {
                null => tableDefault.Length == 0,
                string s => s == tableDefault,
                bool b => tableDefault.Equals(b ? "true" : "false", StringComparison.Ordinal),
                TimeSpan t => TimeSpan.TryParse(tableDefault, CultureInfo.InvariantCulture, out var u) && t == u,
                long l when tableDefault.StartsWith("0x", StringComparison.Ordinal) =>
                    long.TryParse(tableDefault[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var h) && h == l,
                int or long or double => double.TryParse(tableDefault, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                                         && d == Convert.ToDouble(value, CultureInfo.InvariantCulture),
                Enum e => e.ToString() == tableDefault,
                _ => true,
            };
            compared++;
            if (!same)
                problems.Add($"{key}: table '{tableDefault}', code '{Convert.ToString(value, CultureInfo.InvariantCulture)}'");
        }

        if (compared < 40)
            problems.Add($"only {compared} defaults compared: are the options classes still found by SectionName?");
        return problems;
    }
}
