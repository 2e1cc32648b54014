using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MailAgent.Tests.Cli;

/// <summary>A number as pflogsumm prints it: the value and its unit suffix (' ', 'k' or 'm').</summary>
internal readonly record struct PflogsummNumber(long Value, char Unit)
{
    // pflogsumm's adj_int_units: above 512k it divides by 1024 and prints 'k', above 512m by
    // 1048576 and prints 'm'; printf's %d then truncates.
    private const long DivByOneKAt = 524288;
    private const long DivByOneMegAt = 536870912;

    /// <summary>Our exact count as pflogsumm would print it.</summary>
    public static PflogsummNumber As(long value) =>
        value > DivByOneMegAt ? new(value / 1048576, 'm')
        : value > DivByOneKAt ? new(value / 1024, 'k')
        : new(value, ' ');

    /// <summary>The smallest exact count that pflogsumm prints this way.</summary>
    public long LowerBound => Value * Unit switch { 'k' => 1024L, 'm' => 1048576L, _ => 1L };

    public override string ToString() => $"{Value}{Unit}".TrimEnd();
}

/// <summary>Reads the "Grand Totals" block of a pflogsumm report into the replay summary's field names.</summary>
internal static partial class PflogsummGrandTotals
{
    private static readonly Dictionary<string, string> Fields = new(StringComparer.Ordinal)
    {
        ["received"] = "received",
        ["delivered"] = "delivered",
        ["forwarded"] = "forwarded",
        ["deferred"] = "deferred",
        ["bounced"] = "bounced",
        ["rejected"] = "rejected",
        ["reject warnings"] = "reject_warnings",
        ["held"] = "held",
        ["discarded"] = "discarded",
        ["bytes received"] = "bytes_received",
        ["bytes delivered"] = "bytes_delivered",
        ["senders"] = "senders",
        ["sending hosts/domains"] = "sending_hosts_domains",
        ["recipients"] = "recipients",
        ["recipient hosts/domains"] = "recipient_hosts_domains",
    };

    /// <summary>Every field the block has, keyed like the replay JSON (plus <c>deferrals</c>).</summary>
    public static IReadOnlyList<string> FieldNames { get; } = [.. Fields.Values, "deferrals"];

    public static Dictionary<string, PflogsummNumber> Parse(string report)
    {
        var result = new Dictionary<string, PflogsummNumber>(StringComparer.Ordinal);
        using var reader = new StringReader(report);
        bool inBlock = false;
        while (reader.ReadLine() is { } line)
        {
            if (!inBlock)
            {
                inBlock = line == "Grand Totals";
                continue;
            }

            if (line.Length == 0 || line == "messages" || line.StartsWith("---", StringComparison.Ordinal))
                continue;
            var m = Row().Match(line);
            if (!m.Success)
                break; // the next section's title

            string label = m.Groups["label"].Value;
            if (!Fields.TryGetValue(label, out string? field))
                throw new FormatException($"unknown pflogsumm grand-totals row: '{line}'");
            result[field] = Number(m.Groups["value"].Value, m.Groups["unit"].Value);
            if (m.Groups["deferrals"].Success)
                result["deferrals"] = Number(m.Groups["deferrals"].Value, m.Groups["dunit"].Value);
        }

        return result;
    }

    /// <summary>
    /// Compares every Grand Totals field with the replay JSON's exact count, as pflogsumm would print it;
    /// returns one line per disagreement. Byte totals may be a little lower in pflogsumm: it keys sizes
    /// by queue ID, so a queue ID reused later in the log counts its size once (docs/metrics.md). 0.1% below
    /// our exact count is allowed, measured on pflogsumm's lowest possible value, never more than ours.
    /// </summary>
    public static List<string> Mismatches(JsonElement replay, IReadOnlyDictionary<string, PflogsummNumber> pflogsumm)
    {
        var mismatches = new List<string>();
        foreach (var (field, theirs) in pflogsumm)
        {
            long exact = replay.GetProperty(field).GetInt64();
            var shown = PflogsummNumber.As(exact);
            bool agrees = field is "bytes_received" or "bytes_delivered"
                ? theirs.Unit == shown.Unit && theirs.Value <= shown.Value && exact - theirs.LowerBound <= exact / 1000
                : shown == theirs;
            if (!agrees)
                mismatches.Add($"{field}: ours {exact} ({shown}), pflogsumm {theirs}");
        }

        return mismatches;
    }

    private static PflogsummNumber Number(string value, string unit) =>
        new(long.Parse(value, CultureInfo.InvariantCulture), unit.Length == 0 ? ' ' : unit[0]);

    // "  39300   received", "   3200   deferred  (12633  deferrals)", "    800   rejected (1%)", "  86772k  bytes received"
    [GeneratedRegex(@"^\s*(?<value>\d+)(?<unit>[km]?)\s+(?<label>[a-z][a-z /]*?)(?:\s+\((?:(?<deferrals>\d+)(?<dunit>[km]?)\s+deferrals|\d+%)\))?\s*$")]
    private static partial Regex Row();
}
