using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static MailControlPlane.Tests.Routing.WriterHarness;

namespace MailControlPlane.Tests.Routing;

/// <summary>The writer's time-driven behaviour on a fake clock and an in-memory store.</summary>
public sealed class RoutingTableWriterTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Cycle_HealthLogIntervalPasses_OnePeriodicRowPerProviderPerInterval()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-28T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var store = new FakeStore();
        var options = new RoutingOptions { HealthLogInterval = TimeSpan.FromMinutes(5), WriteInterval = TimeSpan.FromSeconds(1) };
        using var writer = NewWriter(options, store, time);
        await writer.StartAsync(CancellationToken.None);

        writer.Publish(Assessment("postfix-oregon", 80, ProviderState.Healthy, active: true));
        writer.Publish(Assessment("postfix-virginia", 30, ProviderState.Failed, active: false));
        await Eventually.UntilAsync(() => store.Updates.Count, n => n == 2, Timeout, n => $"{n} updates");

        for (var minute = 1; minute <= 11; minute++)
        {
            var turns = writer.LoopTurns;
            time.Advance(TimeSpan.FromMinutes(1));

            // Unchanged verdicts (no UPDATE) wake the loop, so a cycle runs at the new time whatever its timer did.
            writer.Publish(Assessment("postfix-oregon", 80, ProviderState.Healthy, active: true));
            await Eventually.UntilAsync(() => writer.LoopTurns, t => t > turns, Timeout, t => $"loop stuck at {t}");
        }

        await writer.StopAsync(CancellationToken.None);
        var rows = store.Rows;
        Assert.Equal(4, rows.Count);
        Assert.Equal(2, rows.Count(r => r.ProviderName == "postfix-oregon" && r.Status == "healthy"));
        Assert.Equal(2, rows.Count(r => r.ProviderName == "postfix-virginia" && r.Status == "failed"));
        Assert.All(rows, r => Assert.Contains("\"kind\":\"periodic\"", r.MetadataJson, StringComparison.Ordinal));
        Assert.Equal(
            [time.Start.AddMinutes(5), time.Start.AddMinutes(5), time.Start.AddMinutes(10), time.Start.AddMinutes(10)],
            rows.Select(r => r.CheckedAt));
        Assert.Equal(2, store.Updates.Count);
    }

    [Fact]
    public async Task Cycle_StoreFails_KeepsLatestAndRowsAndRetriesWithBackoff()
    {
        var time = new FakeTimeProvider();
        var store = new FakeStore { Failing = true };
        var options = new RoutingOptions { RetryMinDelay = TimeSpan.FromSeconds(2), RetryMaxDelay = TimeSpan.FromSeconds(8) };
        using var writer = NewWriter(options, store, time);
        await writer.StartAsync(CancellationToken.None);

        writer.Publish(Assessment("postfix-oregon", 80, ProviderState.Healthy, active: true));
        writer.Enqueue(HealthLogEntries.From(Assessment("postfix-oregon", 80, ProviderState.Healthy, active: true, reason: "first"), HealthLogEntries.StateChange));
        writer.Publish(Assessment("postfix-oregon", 20, ProviderState.Failed, active: false));
        writer.Enqueue(HealthLogEntries.From(Assessment("postfix-oregon", 20, ProviderState.Failed, active: false, reason: "second"), HealthLogEntries.StateChange));
        await Eventually.UntilAsync(() => store.Attempts, n => n >= 1, Timeout, n => $"{n} attempts");

        // Backoff 2 s, then 2-4 s, 4-8 s (never below RetryMinDelay): 1.5 s later nothing was retried; as the clock moves on, it is.
        time.Advance(TimeSpan.FromSeconds(1.5));
        await Task.Yield();
        Assert.Equal(1, store.Attempts);
        await Eventually.UntilAsync(
            () => { time.Advance(TimeSpan.FromSeconds(1)); return store.Attempts; },
            n => n >= 4, Timeout, n => $"{n} attempts");
        Assert.Equal(2, writer.BufferedRows);

        store.Failing = false;
        await Eventually.UntilAsync(
            () => { time.Advance(TimeSpan.FromSeconds(1)); return store.Rows.Count; },
            n => n == 2, Timeout, n => $"{n} rows");
        await writer.StopAsync(CancellationToken.None);

        Assert.Equal([new ProviderRowUpdate("postfix-oregon", 20, false, MayReactivate: false)], store.Updates);
        Assert.Equal(["first", "second"], store.Rows.Select(r => r.Reason));
        Assert.Equal(0, writer.BufferedRows);
    }

    [Fact]
    public async Task Cycle_DatabaseOutageAfterLeading_PeriodicRowsKeptAndWrittenAfter()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-28T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var store = new FakeStore();
        var options = new RoutingOptions
        {
            HealthLogInterval = TimeSpan.FromMinutes(1), WriteInterval = TimeSpan.FromSeconds(1),
            RetryMinDelay = TimeSpan.FromSeconds(10), RetryMaxDelay = TimeSpan.FromSeconds(10),
        };
        using var writer = NewWriter(options, store, time);
        await writer.StartAsync(CancellationToken.None);
        writer.Publish(Assessment("postfix-oregon", 100, ProviderState.Healthy, active: true));
        await Eventually.UntilAsync(() => store.Updates.Count, n => n == 1, Timeout, n => $"{n} updates");

        store.Failing = true;
        var outageStart = time.GetUtcNow();
        await Eventually.UntilAsync(
            () => { time.Advance(TimeSpan.FromSeconds(5)); return time.GetUtcNow() - outageStart; },
            t => t >= TimeSpan.FromMinutes(5), Timeout, t => $"{t}");
        Assert.Empty(store.Rows);
        Assert.InRange(writer.BufferedRows, 3, 6);

        store.Failing = false;
        await Eventually.UntilAsync(
            () => { time.Advance(TimeSpan.FromSeconds(5)); return store.Rows.Count; },
            n => n >= 4, Timeout, n => $"{n} rows");
        await writer.StopAsync(CancellationToken.None);

        var during = store.Rows.Where(r => r.CheckedAt > outageStart && r.CheckedAt < outageStart + TimeSpan.FromMinutes(5)).ToList();
        Assert.InRange(during.Count, 3, 6);
        Assert.All(during, r => Assert.Contains("\"kind\":\"periodic\"", r.MetadataJson, StringComparison.Ordinal));
    }

    private static RoutingTableWriter NewWriter(RoutingOptions options, IRoutingStore store, TimeProvider time) =>
        new(options, store, AgentProviders, new RoutingMetrics(Prometheus.Metrics.NewCustomRegistry()), time, NullLogger<RoutingTableWriter>.Instance);

    /// <summary>An in-memory routing table that can be made to fail like an unreachable database.</summary>
    private sealed class FakeStore : IRoutingStore
    {
        private readonly Lock _gate = new();
        private readonly List<ProviderRowUpdate> _updates = [];
        private readonly List<HealthLogEntry> _rows = [];
        private int _attempts;

        public volatile bool Failing;

        public int Attempts => Volatile.Read(ref _attempts);

        public IReadOnlyList<ProviderRowUpdate> Updates
        {
            get
            {
                lock (_gate)
                {
                    return [.. _updates];
                }
            }
        }

        public IReadOnlyList<HealthLogEntry> Rows
        {
            get
            {
                lock (_gate)
                {
                    return [.. _rows];
                }
            }
        }

        public Task<bool> TryLeadAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _attempts);
            return Failing ? throw new InvalidOperationException("database unreachable") : Task.FromResult(true);
        }

        public Task ResetAsync() => Task.CompletedTask;

        public Task<IReadOnlyDictionary<string, ProviderRowsWritten>> WriteProvidersAsync(IReadOnlyList<ProviderRowUpdate> updates, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _updates.AddRange(updates);
            }

            return Task.FromResult<IReadOnlyDictionary<string, ProviderRowsWritten>>(updates.ToDictionary(u => u.ProviderName, _ => new ProviderRowsWritten(1, 1)));
        }

        public Task WriteHealthLogsAsync(IReadOnlyList<HealthLogEntry> entries, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _rows.AddRange(entries);
            }

            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<string>> CreateMissingProvidersAsync(IReadOnlyList<string> providerNames, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<string>>([]);

        public Task<IReadOnlyList<string>> ActiveEmailProvidersAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<string>>(["postfix-oregon", "elastic-email"]);

        public Task<IReadOnlyList<ScorerState>> ReadScorerStateAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<ScorerState>>([]);

        public Task WriteScorerStateAsync(IReadOnlyList<ScorerState> states, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyList<RoutedProvider>> ReadOrderAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<RoutedProvider>>([]);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
