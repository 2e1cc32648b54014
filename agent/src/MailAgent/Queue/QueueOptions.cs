using System.Globalization;

namespace MailAgent.Queue;

/// <summary>How and how often the Postfix queue is listed (section <c>Queue</c>).</summary>
internal sealed class QueueOptions
{
    public const string SectionName = "Queue";

    /// <summary>Age buckets of <c>postfix_showq_message_age_seconds</c>, in seconds: 1 min … 5 days (<c>maximal_queue_lifetime</c>).</summary>
    public const string DefaultAgeBuckets = "60,300,900,1800,3600,14400,43200,86400,172800,259200,432000";

    /// <summary>Most age buckets; each is one series per queue.</summary>
    public const int MaxAgeBuckets = 30;

    /// <summary>Most domains <c>postfix_deferred_by_domain</c> names; each is one series.</summary>
    public const int MaxTopDomains = 100;

    /// <summary>Lists the queue at all; off leaves the queue series out.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Time between two <c>postqueue -j</c> runs.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A run taking longer is killed and counted as failed; the last good numbers stay.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Recipient domains of the deferred queue named in <c>postfix_deferred_by_domain</c>; the rest are <c>other</c>.</summary>
    public int TopDomains { get; set; } = 10;

    /// <summary>Upper bounds of the message age histogram, seconds, comma-separated and increasing.</summary>
    public string AgeBuckets { get; set; } = DefaultAgeBuckets;

    /// <summary>Parses <see cref="AgeBuckets"/>; on failure <paramref name="problem"/> says why.</summary>
    public static bool TryParseAgeBuckets(string? text, out double[] bounds, out string? problem)
    {
        bounds = [];
        problem = null;
        var parts = (text ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is 0 or > MaxAgeBuckets)
        {
            problem = $"give 1 to {MaxAgeBuckets} bucket bounds";
            return false;
        }

        var parsed = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out parsed[i]) || !double.IsFinite(parsed[i]) || parsed[i] <= 0)
            {
                problem = $"'{parts[i]}' is not a positive number of seconds";
                return false;
            }

            if (i > 0 && parsed[i] <= parsed[i - 1])
            {
                problem = $"{parts[i]} does not exceed {parts[i - 1]}: bounds must increase";
                return false;
            }
        }

        bounds = parsed;
        return true;
    }

    /// <summary>The validated bucket bounds (call after validation).</summary>
    public double[] AgeBucketBounds() =>
        TryParseAgeBuckets(AgeBuckets, out var bounds, out var problem) ? bounds : throw new InvalidOperationException($"Queue:AgeBuckets: {problem}");
}
