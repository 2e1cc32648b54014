using System.Text.RegularExpressions;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>The "Grand Totals" block of a pflogsumm report.</summary>
internal sealed partial record PflogsummGrandTotals(
    long Received,
    long Delivered,
    long Forwarded,
    long Deferred,
    long Deferrals,
    long Bounced,
    long Rejected,
    long RejectWarnings,
    long Held,
    long Discarded,
    long Senders,
    long Recipients)
{
    /// <summary>
    /// Reads the Grand Totals block. pflogsumm shrinks large numbers with a k or m suffix (1024-based);
    /// such values come back multiplied out and are therefore approximate.
    /// </summary>
    public static PflogsummGrandTotals Parse(string report)
    {
        var lines = report.Split('\n');
        var start = Array.FindIndex(lines, l => l.Trim() == "Grand Totals");
        if (start < 0)
        {
            throw new FormatException("pflogsumm report has no 'Grand Totals' section");
        }

        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        long deferrals = 0;
        // The block ends at the next section title, which is followed by a dashed rule.
        for (var i = start + 2; i < lines.Length && !(i + 1 < lines.Length && lines[i + 1].StartsWith("---", StringComparison.Ordinal)); i++)
        {
            var match = TotalsLine().Match(lines[i]);
            if (!match.Success)
            {
                continue;
            }

            var label = match.Groups["label"].Value;
            values[label] = Number(match.Groups["value"].Value, match.Groups["unit"].Value);
            if (match.Groups["deferrals"].Success)
            {
                deferrals = long.Parse(match.Groups["deferrals"].Value);
            }
        }

        long Get(string label) => values.TryGetValue(label, out var value)
            ? value
            : throw new FormatException($"pflogsumm Grand Totals has no '{label}' line");

        return new PflogsummGrandTotals(
            Get("received"),
            Get("delivered"),
            Get("forwarded"),
            Get("deferred"),
            deferrals,
            Get("bounced"),
            Get("rejected"),
            Get("reject warnings"),
            Get("held"),
            Get("discarded"),
            Get("senders"),
            Get("recipients"));
    }

    private static long Number(string digits, string unit) => long.Parse(digits) * unit switch
    {
        "k" => 1024L,
        "m" => 1024L * 1024,
        _ => 1L,
    };

    // "     23   received", "      4   deferred  (32  deferrals)", "      9   rejected (47%)", "   3412k  bytes received"
    [GeneratedRegex(@"^\s*(?<value>\d+)(?<unit>[km]?)\s+(?<label>[a-z][a-z /]*?)\s*(?:\((?:(?<deferrals>\d+)\s+deferrals|\d+%)\))?\s*$")]
    private static partial Regex TotalsLine();
}
