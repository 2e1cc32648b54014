using System.Threading.Channels;
using MailAgent.Protos.V1;
using Prometheus;

namespace MailControlPlane.DeliveryEvents;

/// <summary>What the agent connections hand their delivery events to.</summary>
internal interface IDeliveryEventSink
{
    /// <summary>The stored resume point of <paramref name="agent"/> (waits for the store on start).</summary>
    Task<DeliveryCursor> CursorAsync(string agent, CancellationToken cancellationToken);

    /// <summary>Queues one event; waits while the buffer is full, so a slow database slows the streams and drops nothing.</summary>
    ValueTask WriteAsync(string agent, string providerName, AgentEvent e, CancellationToken cancellationToken);

    /// <summary>The agent said events fell out of its buffer before we read them.</summary>
    void Lost(string agent, ulong firstMissed, ulong firstAvailable);
}

/// <summary>
/// At-least-once into messaging_delivery_events: the watch streams queue events (bounded, waiting
/// when full); one loop writes them in batches with the per-agent cursor in the same transaction,
/// retrying with backoff on failure, so a restart of either side resumes where the table stands
/// and the (agent, event_key) key turns replays into no-ops. Deletes rows past the retention hourly.
/// </summary>
internal sealed class DeliveryEventSink : BackgroundService, IDeliveryEventSink
{
    private readonly IDeliveryEventStore _store;
    private readonly DeliveryEventsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<DeliveryEventRow> _queue;
    private readonly TaskCompletionSource<IReadOnlyDictionary<string, DeliveryCursor>> _cursors = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Counter _stored;
    private readonly Counter _duplicates;
    private readonly Counter _lost;
    private readonly Counter _failures;
    private readonly Counter _deleted;
    private readonly Gauge _buffered;
    private readonly Counter _webhookDropped;
    private DateTimeOffset _nextRetention;

    public DeliveryEventSink(IDeliveryEventStore store, DeliveryEventsOptions options, TimeProvider time, CollectorRegistry registry, ILogger<DeliveryEventSink> logger)
    {
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
        _queue = Channel.CreateBounded<DeliveryEventRow>(new BoundedChannelOptions(options.BufferSize)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        _stored = factory.CreateCounter("mailcp_delivery_events_stored_total", "Delivery events inserted into messaging_delivery_events.");
        _duplicates = factory.CreateCounter("mailcp_delivery_events_duplicates_total", "Delivery events received again (a replay after a restart) and skipped by the unique key.");
        _lost = factory.CreateCounter("mailcp_delivery_events_lost_total", "Events an agent reported as fallen out of its buffer before they were read (EventsLost; an agent restart counts its sequence gap).");
        _failures = factory.CreateCounter("mailcp_delivery_events_write_failures_total", "Failed batch writes (retried with backoff).");
        _deleted = factory.CreateCounter("mailcp_delivery_events_deleted_total", "Rows deleted past DeliveryEvents:RetentionDays.");
        _webhookDropped = factory.CreateCounter("mailcp_webhook_dropped_events_total", "Delivery events deleted past DeliveryEvents:RetentionDays before the webhook could send them (its queue is the table).");
        _buffered = factory.CreateGauge("mailcp_delivery_events_buffered", "Events received and not yet written.");
    }

    public long Stored => (long)_stored.Value;

    public long Duplicates => (long)_duplicates.Value;

    public async Task<DeliveryCursor> CursorAsync(string agent, CancellationToken cancellationToken)
    {
        var cursors = await _cursors.Task.WaitAsync(cancellationToken);
        return cursors.TryGetValue(agent, out var c) ? c : default;
    }

    public ValueTask WriteAsync(string agent, string providerName, AgentEvent e, CancellationToken cancellationToken)
    {
        var d = e.Delivery;
        string status = d.Outcome switch
        {
            DeliveryOutcome.Sent => "delivered",
            DeliveryOutcome.Deferred => "deferred",
            DeliveryOutcome.Bounced => "bounced",
            DeliveryOutcome.Expired => "expired",
            _ => "",
        };
        if (status.Length == 0 || d.EventKey.Length == 0)
            return ValueTask.CompletedTask; // an agent without delivery events (older version): nothing to store
        var row = new DeliveryEventRow(agent, d.EventKey, e.RunId, (long)e.Sequence, providerName, d.Host, d.MessageId, d.QueueId, status,
            d.RecipientDomain, d.Recipient, d.RecipientHash, d.Dsn, Severity(d.Severity), Reason(d.Reason), d.Reply, d.Relay,
            d.Delay, d.DelayBeforeQueueManager, d.DelayInQueueManager, d.DelayConnectionSetup, d.DelayTransmission, (int)d.Attempt,
            (d.LoggedAt ?? e.ObservedAt)?.ToDateTimeOffset() ?? _time.GetUtcNow());
        _buffered.Inc();
        return _queue.Writer.WriteAsync(row, cancellationToken);
    }

    public void Lost(string agent, ulong firstMissed, ulong firstAvailable)
    {
        // first_missed beyond first_available means the agent restarted (its sequences began again): nothing
        // countable was lost on the way, the agent re-reads its log from its checkpoint.
        if (firstAvailable > firstMissed)
            _lost.Inc(firstAvailable - firstMissed);
        Log.EventsLost(_logger, agent, firstMissed, firstAvailable);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = new Backoff(_options.RetryMinDelay, _options.RetryMaxDelay, Random.Shared);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _store.EnsureSchemaAsync(stoppingToken);
                _cursors.TrySetResult(await _store.CursorsAsync(stoppingToken));
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _failures.Inc();
                var delay = backoff.Next();
                Log.StoreUnavailable(_logger, e.Message, delay);
                await Task.Delay(delay, _time, stoppingToken);
            }
        }

        _nextRetention = _time.GetUtcNow();
        var batch = new List<DeliveryEventRow>(_options.BatchSize);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync(stoppingToken))
        {
            // Take what is there, then wait at most FlushInterval for a full batch.
            using (var flush = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                flush.CancelAfter(_options.FlushInterval);
                try
                {
                    while (batch.Count < _options.BatchSize)
                    {
                        if (reader.TryRead(out var row))
                            batch.Add(row);
                        else if (!await reader.WaitToReadAsync(flush.Token))
                            break;
                    }
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // FlushInterval passed: write what we have.
                }
            }

            await WriteWithRetryAsync(batch, backoff, stoppingToken);
            _buffered.Dec(batch.Count);
            batch.Clear();
            await RetentionAsync(stoppingToken);
        }
    }

    private async Task WriteWithRetryAsync(List<DeliveryEventRow> batch, Backoff backoff, CancellationToken stoppingToken)
    {
        var cursors = new Dictionary<string, DeliveryCursor>(StringComparer.Ordinal);
        foreach (var r in batch)
            cursors[r.Agent] = new DeliveryCursor(r.AgentRun, r.AgentSequence);
        while (true)
        {
            try
            {
                int inserted = await _store.WriteAsync(batch, cursors, stoppingToken);
                _stored.Inc(inserted);
                _duplicates.Inc(batch.Count - inserted);
                backoff.Reset();
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _failures.Inc();
                var delay = backoff.Next();
                Log.WriteFailed(_logger, batch.Count, e.Message, delay);
                await Task.Delay(delay, _time, stoppingToken);
            }
        }
    }

    private async Task RetentionAsync(CancellationToken stoppingToken)
    {
        var now = _time.GetUtcNow();
        if (now < _nextRetention)
            return;
        _nextRetention = now + TimeSpan.FromHours(1);
        try
        {
            var cutoff = now - TimeSpan.FromDays(_options.RetentionDays);
            if (_options.Webhook.Enabled)
                _webhookDropped.Inc(await _store.WebhookUnsentOlderThanAsync(cutoff, stoppingToken));
            int deleted = await _store.DeleteOlderThanAsync(cutoff, stoppingToken);
            _deleted.Inc(deleted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.RetentionFailed(_logger, e.Message);
        }
    }

    private static string Severity(BounceSeverity s) => s switch
    {
        BounceSeverity.Hard => "hard",
        BounceSeverity.Soft => "soft",
        _ => "none",
    };

    private static string Reason(BounceReason r) => r switch
    {
        BounceReason.UnknownUser => "unknown_user",
        BounceReason.MailboxFull => "mailbox_full",
        BounceReason.Policy => "policy",
        BounceReason.Dns => "dns",
        BounceReason.Tls => "tls",
        BounceReason.Connection => "connection",
        BounceReason.Message => "message",
        BounceReason.Expired => "expired",
        BounceReason.Other => "other",
        _ => "none",
    };
}
