namespace MailControlPlane.DeliveryEvents;

/// <summary>
/// Per provider and hour: sent (final outcomes: delivered + bounced + expired), delivered,
/// deferred attempts, hard and soft bounces, expired, and the median and p95 delay of deliveries
/// (nearest-rank, as the view's percentile_disc).
/// </summary>
internal static class ProviderStats
{
    public static IReadOnlyList<ProviderHourStats> Aggregate(string provider,
        IEnumerable<(string Status, string Severity, double Delay, DateTimeOffset LoggedAt)> rows)
    {
        var result = new List<ProviderHourStats>();
        foreach (var hour in rows.GroupBy(r => new DateTimeOffset(r.LoggedAt.UtcTicks - (r.LoggedAt.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero)).OrderBy(g => g.Key))
        {
            long delivered = 0, deferred = 0, hard = 0, soft = 0, expired = 0;
            var delays = new List<double>();
            foreach (var r in hour)
            {
                switch (r.Status)
                {
                    case "delivered": delivered++; delays.Add(r.Delay); break;
                    case "deferred": deferred++; break;
                    case "bounced" when r.Severity == "hard": hard++; break;
                    case "bounced": soft++; break;
                    case "expired": expired++; break;
                }
            }

            delays.Sort();
            result.Add(new ProviderHourStats(provider, hour.Key, delivered + hard + soft + expired, delivered, deferred, hard, soft, expired,
                Percentile(delays, 0.5), Percentile(delays, 0.95)));
        }

        return result;
    }

    /// <summary>Nearest rank: the smallest value with at least <paramref name="p"/> of the values at or below it.</summary>
    public static double? Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}
