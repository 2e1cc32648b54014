using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace MailAgent.Tests.Architecture;

/// <summary>The event IDs of [LoggerMessage] methods: from a built assembly (reflection) or from a daemon's source (the other daemon's tests).</summary>
internal static partial class EventIds
{
    /// <summary>Every [LoggerMessage] method of <paramref name="assembly"/> as (ID, Type.Method).</summary>
    public static List<(int Id, string Method)> FromAssembly(Assembly assembly) =>
        assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(p => p.Attribute != null)
            .Select(p => (p.Attribute!.EventId, $"{p.Method.DeclaringType!.FullName}.{p.Method.Name}"))
            .ToList();

    /// <summary>Every EventId written in a [LoggerMessage(…)] under <paramref name="root"/>.</summary>
    public static List<(int Id, string File)> FromSource(string root) =>
        Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => Attribute().Matches(File.ReadAllText(f)).Select(m => (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Path.GetRelativePath(root, f))))
            .ToList();

    /// <summary>"ID: A, B" for each ID used more than once.</summary>
    public static List<string> Duplicates<T>(IEnumerable<(int Id, T Where)> ids) =>
        ids.GroupBy(i => i.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(i => i.Where))}").ToList();

    [GeneratedRegex(@"\[LoggerMessage\(\s*(?:EventId\s*=\s*)?(\d+)")]
    private static partial Regex Attribute();
}
