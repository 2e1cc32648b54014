using Prometheus;

namespace MailAgent.Queue;

/// <summary>
/// Publishes the latest <see cref="QueueSnapshot"/> through prometheus-net. A scrape only reads the
/// snapshot already taken (in a before-collect callback) and never waits for postqueue. The queue
/// series appear with the first good snapshot, every queue and reason class zero-filled from then on.
/// </summary>
/// <remarks>
/// <c>postfix_showq_message_age_seconds</c> describes the queue as it is, not events since start:
/// each new snapshot replaces the histogram's children, so its buckets can go down (Prometheus sees a
/// reset). Use it with <c>histogram_quantile</c> on the raw series, not with <c>rate</c>. Each bucket is
/// filled with its messages' mean age, so <c>_sum</c> and <c>_count</c> are exact. The children are
/// rebuilt only when a new snapshot is first scraped; a second scrape running at that very moment may
/// see the histogram half rebuilt.
/// </remarks>
internal sealed class QueueMetrics
{
    private static readonly string[] QueueLabel = ["queue"];

    private readonly IQueueSnapshotSource _source;
    private readonly TimeProvider _time;
    private readonly DateTimeOffset _startedAt;
    private readonly double[] _bounds;
    private readonly Lock _sync = new();
    private readonly Gauge _depth;
    private readonly Gauge _bytes;
    private readonly Gauge _recipients;
    private readonly Gauge _oldest;
    private readonly Histogram _ages;
    private readonly Gauge _byReason;
    private readonly Gauge _byDomain;
    private readonly Gauge _success;
    private readonly Gauge _duration;
    private readonly Gauge _snapshotAge;
    private readonly Counter _runs;
    private readonly Counter _malformed;
    private readonly HashSet<string> _publishedDomains = new(StringComparer.Ordinal);
    private QueueSnapshot? _publishedSnapshot;
    private QueueSummary? _publishedSummary;

    public QueueMetrics(CollectorRegistry registry, IQueueSnapshotSource source, double[] ageBuckets, TimeProvider time)
    {
        _source = source;
        _time = time;
        _startedAt = time.GetUtcNow();
        _bounds = ageBuckets;
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        _depth = factory.CreateGauge("postfix_showq_queue_depth", "Messages in each Postfix queue, from postqueue -j.", QueueLabel);
        _bytes = factory.CreateGauge("postfix_showq_queue_size_bytes", "Total size of the messages in each Postfix queue.", QueueLabel);
        _recipients = factory.CreateGauge("postfix_showq_queue_recipients", "Recipients still to be delivered in each Postfix queue.", QueueLabel);
        _oldest = factory.CreateGauge("postfix_showq_oldest_message_age_seconds", "Age of the oldest message in each queue when the snapshot was taken (0 when empty).", QueueLabel);
        _ages = factory.CreateHistogram("postfix_showq_message_age_seconds", "Ages of the messages in each queue when the snapshot was taken (replaced by every snapshot).",
            new HistogramConfiguration { LabelNames = QueueLabel, Buckets = ageBuckets });
        _byReason = factory.CreateGauge("postfix_deferred_by_reason", "Recipients in the deferred queue by the class of their delay_reason.", "reason_class");
        _byDomain = factory.CreateGauge("postfix_deferred_by_domain", "Recipients in the deferred queue by destination domain: the top domains, the rest as 'other'.", "domain");
        _success = factory.CreateGauge("mailagent_queue_scrape_success", "1 when the last postqueue run succeeded, else 0 (the last good numbers stay published).");
        _duration = factory.CreateGauge("mailagent_queue_scrape_duration_seconds", "How long the last postqueue run and its summary took.");
        _snapshotAge = factory.CreateGauge("mailagent_queue_snapshot_age_seconds", "Age of the queue numbers published (since the inspector started, before the first good run).");
        _runs = factory.CreateCounter("mailagent_queue_scrapes_total", "postqueue runs by result: success, failure, timeout.", "result");
        _malformed = factory.CreateCounter("mailagent_queue_malformed_lines_total", "Lines of postqueue -j output that were not a queue entry and were skipped.");
        foreach (var result in new[] { "success", "failure", "timeout" })
            _runs.WithLabels(result);
        registry.AddBeforeCollectCallback(Update);
    }

    /// <summary>Counts a finished run; the inspector calls it once per run, scrapes or not.</summary>
    public void Record(QueueSnapshot snapshot)
    {
        _runs.WithLabels(snapshot.Succeeded ? "success" : snapshot.TimedOut ? "timeout" : "failure").Inc();
        if (snapshot.Succeeded && snapshot.Summary is { MalformedLines: > 0 } summary)
            _malformed.Inc(summary.MalformedLines);
    }

    private void Update()
    {
        var snapshot = _source.Current;
        var now = _time.GetUtcNow();
        lock (_sync)
        {
            if (snapshot != null && !ReferenceEquals(snapshot, _publishedSnapshot))
            {
                _success.Set(snapshot.Succeeded ? 1 : 0);
                _duration.Set(snapshot.Duration.TotalSeconds);
                _publishedSnapshot = snapshot;
            }

            var summary = snapshot?.Summary;
            if (summary != null && !ReferenceEquals(summary, _publishedSummary))
            {
                Publish(summary);
                _publishedSummary = summary;
            }

            _snapshotAge.Set(Math.Max(0, (now - (summary?.TakenAt ?? _startedAt)).TotalSeconds));
        }
    }

    private void Publish(QueueSummary summary)
    {
        foreach (var queue in summary.Queues)
        {
            _depth.WithLabels(queue.Name).Set(queue.Messages);
            _bytes.WithLabels(queue.Name).Set(queue.Bytes);
            _recipients.WithLabels(queue.Name).Set(queue.Recipients);
            _oldest.WithLabels(queue.Name).Set(summary.OldestAgeSeconds(queue.Queue));
            PublishAges(queue);
        }

        for (int i = 0; i < DeferralReasons.Count; i++)
            _byReason.WithLabels(DeferralReasons.Labels[i]).Set(summary.DeferredByReason[i]);

        var domains = new HashSet<string>(StringComparer.Ordinal) { "other" };
        long other = summary.OtherDeferredDomainRecipients;
        foreach (var domain in summary.TopDeferredDomains)
        {
            // A destination literally named "other" cannot have a series of its own.
            if (domains.Add(domain.Domain))
                _byDomain.WithLabels(domain.Domain).Set(domain.Recipients);
            else
                other += domain.Recipients;
        }

        _byDomain.WithLabels("other").Set(other);
        foreach (var gone in _publishedDomains.Where(d => !domains.Contains(d)))
            _byDomain.RemoveLabelled(gone);
        _publishedDomains.Clear();
        _publishedDomains.UnionWith(domains);
    }

    private void PublishAges(QueueStats queue)
    {
        // A fresh child per snapshot: the histogram describes this queue now, not a running total.
        _ages.RemoveLabelled(queue.Name);
        var child = _ages.WithLabels(queue.Name);
        for (int b = 0; b < queue.AgeBucketCounts.Count; b++)
        {
            long count = queue.AgeBucketCounts[b];
            if (count == 0)
                continue;

            // The mean of ages in (lower, upper] lies in that bucket; clamp against rounding so it stays there.
            double mean = queue.AgeBucketSums[b] / count;
            if (b < _bounds.Length)
                mean = Math.Min(mean, _bounds[b]);
            if (b > 0)
                mean = Math.Max(mean, Math.BitIncrement(_bounds[b - 1]));
            child.Observe(mean, count);
        }
    }
}
