using System.Globalization;
using System.Security.Cryptography;
using Prometheus;

namespace MailControlPlane.DeliveryEvents;

/// <summary>
/// Posts the stored delivery events to <see cref="WebhookOptions.Url"/>: one worker per agent reads
/// its rows after the agent's webhook cursor in id order, posts them as one signed batch and moves
/// the cursor (in the database) only after a 2xx answer, so a restart resends at most the batch
/// in flight (at least once; receivers dedupe on <c>event_key</c>). A failing batch is retried
/// with jittered exponential backoff and blocks that agent's later batches only; after
/// <see cref="WebhookOptions.MaxAttempts"/> (0: never) it is counted as dead letters and skipped.
/// Signature: <c>X-MailAgent-Signature: v1=hex(HMAC-SHA256(secret, timestamp + "." + body))</c>
/// with the Unix-seconds <c>X-MailAgent-Timestamp</c>.
/// </summary>
internal sealed class DeliveryEventWebhook : BackgroundService
{
    public const string TimestampHeader = "X-MailAgent-Timestamp";
    public const string SignatureHeader = "X-MailAgent-Signature";
    public const string BatchHeader = "X-MailAgent-Batch";

    private readonly IDeliveryEventStore _store;
    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly Dictionary<string, Task> _workers = new(StringComparer.Ordinal);
    private readonly Counter _sent;
    private readonly Counter _batches;
    private readonly Counter _failures;
    private readonly Counter _deadLetters;
    private readonly Gauge _pending;

    public DeliveryEventWebhook(IDeliveryEventStore store, WebhookOptions options, TimeProvider time, CollectorRegistry registry, ILogger<DeliveryEventWebhook> logger)
    {
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
        _http = new HttpClient(CreateHandler(options.CaFile, time)) { Timeout = options.Timeout };
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        _sent = factory.CreateCounter("mailcp_webhook_events_sent_total", "Delivery events the webhook receiver accepted (2xx).");
        _batches = factory.CreateCounter("mailcp_webhook_batches_sent_total", "Batches the webhook receiver accepted (2xx).");
        _failures = factory.CreateCounter("mailcp_webhook_failures_total", "Webhook posts that failed (error, timeout or non-2xx); the batch is retried with backoff.");
        _deadLetters = factory.CreateCounter("mailcp_webhook_dead_letter_events_total", "Delivery events given up after DeliveryEvents:Webhook:MaxAttempts failed posts of their batch.");
        _pending = factory.CreateGauge("mailcp_webhook_pending_batches", "Agents whose current batch is waiting for a retry (blocked behind a failing post).");
    }

    public long Sent => (long)_sent.Value;

    /// <summary>hex(HMAC-SHA256(secret, timestamp + "." + body)), lower case.</summary>
    public static string Sign(byte[] secret, string timestamp, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
        hmac.AppendData(System.Text.Encoding.ASCII.GetBytes(timestamp + "."));
        hmac.AppendData(body);
        return Convert.ToHexStringLower(hmac.GetHashAndReset());
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = new Backoff(_options.RetryMinDelay, _options.RetryMaxDelay, Random.Shared);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var (agent, cursor) in await _store.WebhookCursorsAsync(stoppingToken))
                {
                    if (!_workers.ContainsKey(agent))
                        _workers[agent] = Task.Run(() => AgentAsync(agent, cursor, stoppingToken), stoppingToken);
                }

                backoff.Reset();
                await Task.Delay(_options.PollInterval, _time, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var delay = backoff.Next();
                Log.WebhookStoreFailed(_logger, e.Message, delay);
                await Task.Delay(delay, _time, stoppingToken);
            }
        }

        await Task.WhenAll(_workers.Values).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task AgentAsync(string agent, long cursor, CancellationToken stoppingToken)
    {
        var backoff = new Backoff(_options.RetryMinDelay, _options.RetryMaxDelay, Random.Shared);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var rows = await _store.EventsAfterAsync(agent, cursor, _options.BatchSize, stoppingToken);
                if (rows.Count == 0)
                {
                    await Task.Delay(_options.PollInterval, _time, stoppingToken);
                    continue;
                }

                if (await PostWithRetryAsync(agent, rows, stoppingToken))
                {
                    _sent.Inc(rows.Count);
                    _batches.Inc();
                }
                else
                {
                    _deadLetters.Inc(rows.Count);
                    Log.WebhookDeadLetter(_logger, agent, rows.Count, rows[0].Id, rows[^1].Id, _options.MaxAttempts);
                }

                cursor = rows[^1].Id;
                await _store.SetWebhookCursorAsync(agent, cursor, stoppingToken);
                backoff.Reset();
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                var delay = backoff.Next();
                Log.WebhookStoreFailed(_logger, e.Message, delay);
                await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Posts until a 2xx (true) or MaxAttempts failures (false).</summary>
    private async Task<bool> PostWithRetryAsync(string agent, IReadOnlyList<(long Id, string Json)> rows, CancellationToken stoppingToken)
    {
        byte[] body = WebhookJson.Batch(agent, rows);
        var backoff = new Backoff(_options.RetryMinDelay, _options.RetryMaxDelay, Random.Shared);
        for (int attempt = 1; ; attempt++)
        {
            string reason;
            try
            {
                string timestamp = _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                using var request = new HttpRequestMessage(HttpMethod.Post, _options.Url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                request.Headers.Add(TimestampHeader, timestamp);
                request.Headers.Add(SignatureHeader, "v1=" + Sign(_options.LoadedSecret, timestamp, body));
                request.Headers.Add(BatchHeader, $"{agent}:{rows[0].Id}-{rows[^1].Id}");
                using var response = await _http.SendAsync(request, stoppingToken);
                if (response.IsSuccessStatusCode)
                {
                    if (attempt > 1)
                        _pending.Dec();
                    return true;
                }

                reason = $"HTTP {(int)response.StatusCode}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
            {
                reason = e.Message;
            }

            _failures.Inc();
            if (attempt == 1)
                _pending.Inc();
            if (_options.MaxAttempts > 0 && attempt >= _options.MaxAttempts)
            {
                _pending.Dec();
                return false;
            }

            var delay = backoff.Next();
            Log.WebhookPostFailed(_logger, agent, rows[0].Id, rows[^1].Id, attempt, reason, delay);
            await Task.Delay(delay, _time, stoppingToken);
        }
    }

    /// <summary>Certificate verification always on; <paramref name="caFile"/> adds trusted roots for a private receiver.</summary>
    private static SocketsHttpHandler CreateHandler(string caFile, TimeProvider time)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (caFile.Length == 0)
            return handler;
        handler.SslOptions.RemoteCertificateValidationCallback = CertificateChains.ServerTrustedBy(CertificateChains.LoadCa(caFile), time, alsoSystemTrust: true);
        return handler;
    }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }
}
