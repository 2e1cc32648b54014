using Prometheus;

namespace MailAgent.Metrics;

/// <summary>
/// Publishes <see cref="LogStats"/> through prometheus-net. Runs before each collection, so
/// the pipeline thread never touches a prometheus-net object and a scrape never waits on it.
/// </summary>
internal sealed class LogMetricsExporter
{
    private readonly LogStats _stats;
    private readonly Func<int> _trackedMessages;
    private readonly Lock _sync = new();
    private readonly (CounterFamily Family, Counter Metric, Counter.Child?[] Children)[] _counters;
    private readonly (HistogramFamily Family, Histogram Metric, long[][] Exported, double[][] ExportedSums)[] _histograms;
    private readonly long[] _readCounts;
    private readonly double[] _readSums;
    private readonly Gauge _tracked;
    private readonly Gauge _lastLine;

    public LogMetricsExporter(CollectorRegistry registry, LogStats stats, Func<int> trackedMessages)
    {
        _stats = stats;
        _trackedMessages = trackedMessages;
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);

        _counters = stats.Counters.Select(f =>
        {
            var metric = factory.CreateCounter(f.Name, f.Help, new CounterConfiguration { LabelNames = f.LabelNames, SuppressInitialValue = f.LabelNames.Length > 0 });
            var children = new Counter.Child?[f.Values.Length];
            if (f.ZeroFill && f.LabelNames.Length > 0)
            {
                for (int i = 0; i < children.Length; i++)
                    children[i] = metric.WithLabels(f.LabelValues[i]);
            }

            return (f, metric, children);
        }).ToArray();

        _histograms = stats.Histograms.Select(h =>
        {
            var metric = factory.CreateHistogram(h.Name, h.Help, new HistogramConfiguration
            {
                Buckets = h.Bounds,
                LabelNames = h.LabelName == null ? [] : [h.LabelName],
            });
            int children = h.Counts.Length;
            var exported = new long[children][];
            var sums = new double[children][];
            for (int i = 0; i < children; i++)
            {
                exported[i] = new long[h.Bounds.Length + 1];
                sums[i] = new double[h.Bounds.Length + 1];
            }

            return (h, metric, exported, sums);
        }).ToArray();

        int widest = stats.Histograms.Max(h => h.Bounds.Length + 1);
        _readCounts = new long[widest];
        _readSums = new double[widest];
        _tracked = factory.CreateGauge("mailagent_correlation_messages", "Messages the correlator is following right now.");
        _lastLine = factory.CreateGauge("mailagent_log_last_line_timestamp_seconds", "Log timestamp of the newest line read (Unix seconds).");
        registry.AddBeforeCollectCallback(Sync);
    }

    public void Sync()
    {
        lock (_sync)
        {
            foreach (var (family, metric, children) in _counters)
            {
                var values = family.Values;
                for (int i = 0; i < values.Length; i++)
                {
                    long v = Volatile.Read(ref values[i]);
                    var child = children[i];
                    if (child == null)
                    {
                        if (v == 0)
                            continue;
                        child = family.LabelNames.Length == 0 ? null : metric.WithLabels(family.LabelValues[i]);
                        children[i] = child;
                    }

                    if (child != null)
                        child.IncTo(v);
                    else
                        metric.IncTo(v);
                }
            }

            foreach (var (family, metric, exported, exportedSums) in _histograms)
            {
                for (int c = 0; c < family.Counts.Length; c++)
                {
                    IHistogram target = family.LabelName == null ? metric : metric.WithLabels(family.LabelValues[c]);
                    int width = family.Bounds.Length + 1;
                    var counts = _readCounts.AsSpan(0, width);
                    var sums = _readSums.AsSpan(0, width);
                    family.Read(c, counts, sums);
                    for (int b = 0; b < counts.Length; b++)
                    {
                        long delta = counts[b] - exported[c][b];
                        if (delta <= 0)
                            continue;
                        double sum = sums[b];
                        double deltaSum = sum - exportedSums[c][b];
                        target.Observe(Representative(family.Bounds, b, deltaSum / delta), delta);
                        exported[c][b] += delta;
                        exportedSums[c][b] = sum;
                    }
                }
            }

            _tracked.Set(_trackedMessages());
            if (!double.IsNaN(_stats.LastLineTime))
                _lastLine.Set(_stats.LastLineTime);
        }
    }

    // The mean of a bucket's values lies inside the bucket; clamp for rounding at its edges.
    private static double Representative(double[] bounds, int bucket, double mean)
    {
        double upper = bucket < bounds.Length ? bounds[bucket] : double.PositiveInfinity;
        double lower = bucket == 0 ? double.NegativeInfinity : bounds[bucket - 1];
        if (double.IsNaN(mean) || mean > upper)
            return upper;
        if (mean <= lower)
            return Math.BitIncrement(lower);
        return mean;
    }
}
