using System.Text.Json;
using MailControlPlane.Connections;
using MailControlPlane.Hosting;
using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MailControlPlane.Tests.Hosting;

public sealed class EvaluationLoopTests
{
    private sealed class FakeSource : IObservationSource
    {
        public IReadOnlyDictionary<string, AgentObservation> Observations() =>
            new Dictionary<string, AgentObservation> { ["postfix-oregon"] = new(null, [], null) };

        public Task ReadyAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class FakeEvaluator : IProviderEvaluator
    {
        public Queue<ProviderAssessment[]> Rounds { get; } = new();
        public int SeenWithoutAgent { get; private set; } = -1;

        public void RecordDelivery(string providerName, DateTimeOffset at, DeliveryOutcomeKind outcome, string dsn)
        {
        }

        public IReadOnlyList<ProviderAssessment> Evaluate(IReadOnlyDictionary<string, AgentObservation> byProvider, int activeProvidersWithoutAgent)
        {
            Assert.True(byProvider.ContainsKey("postfix-oregon"));
            SeenWithoutAgent = activeProvidersWithoutAgent;
            return Rounds.Dequeue();
        }
    }

    private sealed class FakeSink : IRoutingTableSink
    {
        public List<ProviderAssessment> Published { get; } = [];
        public List<HealthLogEntry> Logged { get; } = [];
        public int ActiveProvidersWithoutAgent => 1;
        public void Publish(ProviderAssessment assessment) => Published.Add(assessment);
        public void Enqueue(HealthLogEntry entry) => Logged.Add(entry);
    }

    private static ProviderAssessment A(string provider, int score, ProviderState state, bool changed, DateTimeOffset at) =>
        new(provider, score, state, state != ProviderState.Failed, changed, $"score {score}",
            new Dictionary<string, double> { ["delivery"] = score / 100.0, ["soft"] = score }, at);

    [Fact]
    public void EvaluateOnce_StateChange_PublishesEveryVerdictAndLogsOnlyTheChange()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-28T04:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var evaluator = new FakeEvaluator();
        var sink = new FakeSink();
        var board = new ProviderBoard();
        var loop = new EvaluationLoop(new FakeSource(), evaluator, sink, board, TimeSpan.FromSeconds(2), time,
            Prometheus.Metrics.NewCustomRegistry(), NullLogger<EvaluationLoop>.Instance);
        var now = time.GetUtcNow();
        evaluator.Rounds.Enqueue([A("postfix-oregon", 100, ProviderState.Healthy, false, now)]);
        evaluator.Rounds.Enqueue([A("postfix-oregon", 0, ProviderState.Failed, true, now)]);

        Assert.Null(loop.LastRun);
        loop.EvaluateOnce();
        loop.EvaluateOnce();

        Assert.Equal(1, evaluator.SeenWithoutAgent);
        Assert.Equal(2, sink.Published.Count);
        var row = Assert.Single(sink.Logged);
        Assert.Equal("failed", row.Status);
        Assert.Equal("score 0", row.Reason);
        using var metadata = JsonDocument.Parse(row.MetadataJson);
        Assert.Equal("failed", metadata.RootElement.GetProperty("state").GetString());
        Assert.Equal(0, metadata.RootElement.GetProperty("components").GetProperty("delivery").GetDouble());
        Assert.Equal(0, Assert.Single(board.Latest()).Score);
        Assert.Equal(now, loop.LastRun);
    }

    [Theory]
    [InlineData(ProviderState.Healthy, "healthy")]
    [InlineData(ProviderState.Degraded, "degraded")]
    [InlineData(ProviderState.Probation, "degraded")]
    [InlineData(ProviderState.Unknown, "degraded")]
    [InlineData(ProviderState.Failed, "failed")]
    internal void ToLogEntry_State_UsesTheTableVocabulary(ProviderState state, string status) =>
        Assert.Equal(status, EvaluationLoop.ToLogEntry(A("p", 50, state, true, DateTimeOffset.UnixEpoch)).Status);

    [Fact]
    public async Task WatchAsync_Changes_ComeAfterTheCurrentVerdicts()
    {
        var board = new ProviderBoard();
        var at = DateTimeOffset.UnixEpoch;
        board.Update([A("a", 100, ProviderState.Healthy, false, at)]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var watch = board.WatchAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(100, watch.Current.Score);
        board.Update([A("a", 100, ProviderState.Healthy, false, at)]); // unchanged: not sent
        board.Update([A("a", 60, ProviderState.Degraded, true, at)]);
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(60, watch.Current.Score);
    }
}
