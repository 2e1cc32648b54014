using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using Microsoft.Extensions.Logging.Abstractions;

namespace MailControlPlane.Tests.Routing;

/// <summary>A started <see cref="RoutingTableWriter"/> with its own store and metric registry; disposing stops it and closes its database session.</summary>
internal sealed class WriterHarness : IAsyncDisposable
{
    public static readonly string[] AgentProviders = ["postfix-oregon", "postfix-virginia"];

    private bool _stopped;

    private WriterHarness(RoutingOptions options, IRoutingStore store, RoutingMetrics metrics, RoutingTableWriter writer)
    {
        Options = options;
        Store = store;
        Metrics = metrics;
        Writer = writer;
    }

    public RoutingOptions Options { get; }

    public IRoutingStore Store { get; }

    public RoutingMetrics Metrics { get; }

    public RoutingTableWriter Writer { get; }

    /// <summary>Options fast enough for tests: short cycles, retries and leader polling; periodic rows only when asked.</summary>
    public static RoutingOptions FastOptions(string connectionString = "", string sqlitePath = "") => new()
    {
        ConnectionString = connectionString,
        SqlitePath = sqlitePath,
        WriteInterval = TimeSpan.FromMilliseconds(200),
        HealthLogInterval = TimeSpan.FromHours(1),
        RetryMinDelay = TimeSpan.FromMilliseconds(100),
        RetryMaxDelay = TimeSpan.FromMilliseconds(500),
        LeaderRetryInterval = TimeSpan.FromMilliseconds(300),
        CommandTimeout = TimeSpan.FromSeconds(5),
    };

    public static async Task<WriterHarness> StartAsync(RoutingOptions options, IScorerMemory? memory = null)
    {
        Assert.Empty(options.Validate());
        IRoutingStore store = options.UsesPostgres
            ? new PostgresRoutingStore(options)
            : new SqliteRoutingStore(options, NullLogger.Instance);
        var metrics = new RoutingMetrics(Prometheus.Metrics.NewCustomRegistry());
        var writer = new RoutingTableWriter(options, store, AgentProviders, metrics, TimeProvider.System, NullLogger<RoutingTableWriter>.Instance, memory);
        await writer.StartAsync(CancellationToken.None);
        return new WriterHarness(options, store, metrics, writer);
    }

    public static ProviderAssessment Assessment(string provider, int score, ProviderState state, bool active, string reason = "test") =>
        new(provider, score, state, active, StateChanged: false, reason,
            new Dictionary<string, double> { ["delivery"] = score / 100.0, ["checks"] = 1, ["soft"] = score / 100.0 },
            DateTimeOffset.UnixEpoch.AddDays(20_000));

    /// <summary>Waits until write cycles after this call have succeeded (the loop runs one every WriteInterval at least).</summary>
    public async Task WaitForCyclesAsync(int cycles = 2)
    {
        for (var i = 0; i < cycles; i++)
        {
            var mark = Writer.LastSuccessfulWrite;
            await Eventually.UntilAsync(() => Writer.LastSuccessfulWrite, last => last is not null && last != mark, TimeSpan.FromSeconds(30), last => $"no write cycle after {mark} (last {last})");
        }
    }

    /// <summary>Waits until the writer's loop has turned a few more times, leader or standby.</summary>
    public async Task WaitForCyclesOrStandbyAsync(int turns = 3)
    {
        var target = Writer.LoopTurns + turns;
        await Eventually.UntilAsync(() => Writer.LoopTurns, t => t >= target, TimeSpan.FromSeconds(30), t => $"loop at {t}, waiting for {target}");
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Writer.Dispose();
        await Store.DisposeAsync();
    }

    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await Writer.StopAsync(CancellationToken.None);
        }
    }
}
