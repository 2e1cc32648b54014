using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using MailControlPlane.DeliveryEvents;
using MailControlPlane.Tests.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MailControlPlane.Tests.Integration.DeliveryEvents;

public sealed class DeliveryEventWebhookTests : IAsyncLifetime
{
    private const string Secret = "webhook-test-secret-0123456789";
    private static readonly string[] Agents = ["oregon", "virginia"];
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cp-webhook-");
    private readonly TestPki _pki = new();
    private readonly ConcurrentQueue<(string Agent, long Id, string Key)> _received = new();
    private IDeliveryEventStore? _store;
    private int _badSignatures;
    private int _sequence;

    public async Task InitializeAsync()
    {
        _store = new SqliteDeliveryEventStore(Path.Combine(_dir.FullName, "routing.db"), TimeProvider.System);
        await _store.EnsureSchemaAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _store!.DisposeAsync();
        _pki.Dispose();
        _dir.Delete(recursive: true);
    }

    private async Task AddEventsAsync(int perAgent)
    {
        foreach (var agent in Agents)
        {
            var rows = new List<DeliveryEventRow>();
            for (int i = 0; i < perAgent; i++)
            {
                int n = Interlocked.Increment(ref _sequence);
                rows.Add(new(agent, $"{agent}-key{n}", "run1", n, "postfix-" + agent, "mail-" + agent, $"m{n}@client.example", $"Q{n}", "delivered",
                    "example.net", "", "", "2.0.0", "none", "none", "250 ok", "mx[192.0.2.1]:25", 1, 0, 0, 0, 0, 1, DateTimeOffset.UtcNow));
            }

            await _store!.WriteAsync(rows, new Dictionary<string, DeliveryCursor> { [agent] = new("run1", _sequence) }, CancellationToken.None);
        }
    }

    private async Task<WebApplication> StartReceiverAsync(int port, string certificateFile, string keyFile)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var certificate = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.UseHttps(certificate)));
        var app = builder.Build();
        app.MapPost("/hook", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            string timestamp = http.Request.Headers[DeliveryEventWebhook.TimestampHeader].ToString();
            string signature = http.Request.Headers[DeliveryEventWebhook.SignatureHeader].ToString();
            // Checked the way a receiver would, independently of the product's code.
            var expected = "v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.ASCII.GetBytes(timestamp + ".").Concat(body.ToArray()).ToArray()));
            if (signature != expected || !long.TryParse(timestamp, out _))
            {
                Interlocked.Increment(ref _badSignatures);
                return Results.StatusCode(401);
            }

            using var doc = JsonDocument.Parse(body.ToArray());
            string agent = doc.RootElement.GetProperty("agent").GetString()!;
            foreach (var e in doc.RootElement.GetProperty("events").EnumerateArray())
                _received.Enqueue((agent, e.GetProperty("id").GetInt64(), e.GetProperty("event_key").GetString()!));
            return Results.Ok();
        });
        await app.StartAsync();
        return app;
    }

    private DeliveryEventWebhook Webhook(int port, Prometheus.CollectorRegistry registry, string caFile) =>
        new(_store!, new WebhookOptions
        {
            Url = $"https://127.0.0.1:{port}/hook",
            CaFile = caFile,
            BatchSize = 50,
            PollInterval = TimeSpan.FromMilliseconds(100),
            RetryMinDelay = TimeSpan.FromMilliseconds(200),
            RetryMaxDelay = TimeSpan.FromSeconds(2),
            Timeout = TimeSpan.FromSeconds(5),
        }.WithSecret(Secret), TimeProvider.System, registry, NullLogger<DeliveryEventWebhook>.Instance);

    [Fact]
    public Task Webhook_ReceiverDown30sAndControlPlaneRestarted_EveryEventArrivesSignedInOrderPerAgent() => OutageScenarioAsync();

    [Fact]
    public async Task Webhook_PostgresStoreReceiverDown30sAndControlPlaneRestarted_EveryEventArrivesSignedInOrderPerAgent()
    {
        await using var server = await Postgres.PrivatePostgres.StartNewAsync();
        await _store!.DisposeAsync();
        _store = new PostgresDeliveryEventStore(server.ConnectionString);
        await _store.EnsureSchemaAsync(CancellationToken.None);
        await OutageScenarioAsync();
    }

    private async Task OutageScenarioAsync()
    {
        int port = EndToEnd.AgentDaemon.FreePort();
        await AddEventsAsync(300);
        var receiver = await StartReceiverAsync(port, _pki.ServerCertificate, _pki.ServerKey);
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var first = Webhook(port, registry, _pki.CaFile);
        await first.StartAsync(CancellationToken.None);
        await Eventually.UntilAsync(_ => Task.FromResult(_received.Count), n => n >= 100, TimeSpan.FromSeconds(60), n => $"{n} received");

        // Receiver down for 30 s while events keep coming; the control plane restarts in the middle.
        await receiver.StopAsync();
        await receiver.DisposeAsync();
        await AddEventsAsync(300);
        await Task.Delay(TimeSpan.FromSeconds(15));
        await first.StopAsync(CancellationToken.None);
        first.Dispose();
        var second = Webhook(port, Prometheus.Metrics.NewCustomRegistry(), _pki.CaFile);
        await second.StartAsync(CancellationToken.None);
        await AddEventsAsync(100);
        await Task.Delay(TimeSpan.FromSeconds(15));
        receiver = await StartReceiverAsync(port, _pki.ServerCertificate, _pki.ServerKey);
        try
        {
            int total = Agents.Length * 700;
            await Eventually.UntilAsync(_ => Task.FromResult(_received.Select(r => r.Key).Distinct().Count()), n => n == total, TimeSpan.FromSeconds(120),
                n => $"{n} of {total} distinct events received");

            var received = _received.ToArray();
            Assert.Equal(0, _badSignatures);
            foreach (var agent in Agents)
            {
                var ids = received.Where(r => r.Agent == agent).Select(r => r.Id).Distinct().ToList(); // first arrival order
                Assert.Equal(700, ids.Count);
                Assert.Equal(ids.Order().ToList(), ids);
                Assert.All(received.Where(r => r.Agent == agent), r => Assert.StartsWith(agent + "-", r.Key, StringComparison.Ordinal));
            }

            // At least once: a restart resends at most the batch in flight per agent.
            Assert.InRange(received.Length - total, 0, Agents.Length * 50);
            Assert.True(Counter(registry, "mailcp_webhook_failures_total") > 0);
            Assert.Equal(0, Counter(registry, "mailcp_webhook_dead_letter_events_total"));
        }
        finally
        {
            await second.StopAsync(CancellationToken.None);
            second.Dispose();
            await receiver.StopAsync();
            await receiver.DisposeAsync();
        }
    }

    [Fact]
    public async Task Webhook_ReceiverCertificateNotFromTheConfiguredCa_NothingSentAndFailuresCounted()
    {
        using var other = new TestPki();
        int port = EndToEnd.AgentDaemon.FreePort();
        await AddEventsAsync(10);
        var receiver = await StartReceiverAsync(port, other.ServerCertificate, other.ServerKey);
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var webhook = Webhook(port, registry, _pki.CaFile);
        await webhook.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.UntilAsync(_ => Task.FromResult(Counter(registry, "mailcp_webhook_failures_total")), n => n >= 2, TimeSpan.FromSeconds(60), n => $"{n} failures");
            Assert.Empty(_received);
        }
        finally
        {
            await webhook.StopAsync(CancellationToken.None);
            webhook.Dispose();
            await receiver.StopAsync();
            await receiver.DisposeAsync();
        }
    }

    private static double Counter(Prometheus.CollectorRegistry registry, string name)
    {
        using var stream = new MemoryStream();
        registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        foreach (var line in Encoding.UTF8.GetString(stream.ToArray()).Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
                return double.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }

        return 0;
    }
}
