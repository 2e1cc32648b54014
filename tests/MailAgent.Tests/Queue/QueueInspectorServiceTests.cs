using System.Text;
using MailAgent.Queue;
using MailAgent.Tests.Postfix;
using MailAgent.Tests.Integration.Postfix;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Prometheus;
using static MailAgent.Tests.Integration.Agent.AgentProcess;

namespace MailAgent.Tests.Queue;

/// <summary>The queue loop with a scripted postqueue and a clock advanced by hand.</summary>
public sealed class QueueInspectorServiceTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1_795_827_766);

    private static readonly QueueOptions Options = new() { Interval = TimeSpan.FromSeconds(30), Timeout = TimeSpan.FromSeconds(20) };

    private readonly FakeTimeProvider _time = new(Start);
    private readonly FakePostfixCommands _postqueue = new();
    private readonly QueueSnapshotStore _store = new();
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    private readonly ListLogger<QueueInspectorService> _logger = new();

    private static string Fixture => File.ReadAllText(TestData.PathOf("postqueue-j.jsonl"));

    private QueueInspectorService CreateService() =>
        new(Microsoft.Extensions.Options.Options.Create(Options), new MailAgent.Postfix.PostfixOptions(), _postqueue, _store, _registry, _logger, _time);

    [Fact]
    public async Task Start_FirstRun_SnapshotPublishedAtOnce()
    {
        _postqueue.ThenPrint(Fixture);
        using var service = CreateService();

        await service.StartAsync(CancellationToken.None);
        var snapshot = await NextSnapshotAsync(null);
        await service.StopAsync(CancellationToken.None);

        Assert.True(snapshot.Succeeded);
        Assert.Equal(Start, snapshot.TakenAt);
        Assert.Equal(1550, snapshot.Summary!.Messages);
        Assert.Equal(1, _logger.Count(2000));
        var metrics = await ScrapeAsync();
        Assert.Equal(1550, Value(metrics, "postfix_showq_queue_depth", "queue=\"deferred\""));
        Assert.Equal(1, Value(metrics, "mailagent_queue_scrape_success"));
    }

    [Fact]
    public async Task Timeout_HungPostqueue_LastGoodNumbersKeptAndFlagged()
    {
        _postqueue.ThenPrint(Fixture).ThenHang();
        using var service = CreateService();
        await service.StartAsync(CancellationToken.None);
        var good = await NextSnapshotAsync(null);

        _time.Advance(Options.Interval);
        await _postqueue.HangStarted.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        // While postqueue hangs a scrape answers at once, from the last snapshot.
        var during = await ScrapeAsync().WaitAsync(Wait);
        Assert.Equal(1550, Value(during, "postfix_showq_queue_depth", "queue=\"deferred\""));
        Assert.Equal(30, Value(during, "mailagent_queue_snapshot_age_seconds"));

        _time.Advance(Options.Timeout);
        var failed = await NextSnapshotAsync(good);
        await service.StopAsync(CancellationToken.None);

        Assert.False(failed.Succeeded);
        Assert.True(failed.TimedOut);
        Assert.Contains("did not finish within 20 s", failed.Error, StringComparison.Ordinal);
        Assert.Equal(Start + Options.Interval, failed.TakenAt);
        Assert.Equal(Options.Timeout, failed.Duration);
        Assert.Same(good.Summary, failed.Summary);
        Assert.Equal(1, failed.ConsecutiveFailures);

        var metrics = await ScrapeAsync();
        Assert.Equal(0, Value(metrics, "mailagent_queue_scrape_success"));
        Assert.Equal(20, Value(metrics, "mailagent_queue_scrape_duration_seconds"));
        Assert.Equal(1550, Value(metrics, "postfix_showq_queue_depth", "queue=\"deferred\""));
        Assert.Equal(50, Value(metrics, "mailagent_queue_snapshot_age_seconds"));
        Assert.Equal(1, Value(metrics, "mailagent_queue_scrapes_total", "result=\"timeout\""));
        Assert.Equal(1, Value(metrics, "mailagent_queue_scrapes_total", "result=\"success\""));
        Assert.Equal(1, _logger.Count(2001));
    }

    [Fact]
    public async Task Failures_OneEpisode_LoggedOnceRetriedEachIntervalThenRecovered()
    {
        var smaller = QueueSummarizerTests.Entry("hold", Start.ToUnixTimeSeconds(), 10, ("u@a.test", null));
        _postqueue
            .ThenPrint(Fixture)
            .ThenExit(69, "postqueue: fatal: open /etc/postfix/main.cf: No such file or directory\nsecond line")
            .ThenCannotStart("No such file or directory")
            .ThenPrint(smaller)
            .ThenExit(75, "postqueue: fatal: Queue report unavailable - mail system is down");
        using var service = CreateService();
        await service.StartAsync(CancellationToken.None);
        var snapshot = await NextSnapshotAsync(null);

        _time.Advance(Options.Interval);
        snapshot = await NextSnapshotAsync(snapshot);
        Assert.False(snapshot.Succeeded);
        Assert.False(snapshot.TimedOut);
        Assert.Equal("postqueue exited with status 69: postqueue: fatal: open /etc/postfix/main.cf: No such file or directory", snapshot.Error);
        Assert.Equal(1550, snapshot.Summary!.Messages);

        _time.Advance(Options.Interval);
        snapshot = await NextSnapshotAsync(snapshot);
        Assert.Equal(2, snapshot.ConsecutiveFailures);
        Assert.Equal("cannot run 'postqueue': No such file or directory", snapshot.Error);
        Assert.Equal(1550, snapshot.Summary!.Messages);
        Assert.Equal(1, _logger.Count(2001));

        _time.Advance(Options.Interval);
        snapshot = await NextSnapshotAsync(snapshot);
        Assert.True(snapshot.Succeeded);
        Assert.Equal(0, snapshot.ConsecutiveFailures);
        Assert.Equal(1, snapshot.Summary!.Messages);
        Assert.Contains(_logger.Entries, e => e.EventId == 2002 && e.Message.Contains("after 2 failed run(s)", StringComparison.Ordinal));

        _time.Advance(Options.Interval);
        snapshot = await NextSnapshotAsync(snapshot);
        await service.StopAsync(CancellationToken.None);

        // A new episode is logged again.
        Assert.False(snapshot.Succeeded);
        Assert.Equal(2, _logger.Count(2001));
        Assert.All(_logger.Entries.Where(e => e.EventId == 2001), e => Assert.Equal(LogLevel.Warning, e.Level));
        Assert.Equal(5, _postqueue.Calls);
        var metrics = await ScrapeAsync();
        Assert.Equal(0, Value(metrics, "postfix_showq_queue_depth", "queue=\"deferred\""));
        Assert.Equal(1, Value(metrics, "postfix_showq_queue_depth", "queue=\"hold\""));
        Assert.Equal(3, Value(metrics, "mailagent_queue_scrapes_total", "result=\"failure\""));
    }

    [Fact]
    public async Task Failure_BeforeAnyGoodRun_NoQueueSeriesAndAgeCountsFromStart()
    {
        _postqueue.ThenExit(1, "postqueue: fatal: bad");
        using var service = CreateService();
        await service.StartAsync(CancellationToken.None);
        var snapshot = await NextSnapshotAsync(null);
        _time.Advance(TimeSpan.FromSeconds(7));

        var metrics = await ScrapeAsync();
        await service.StopAsync(CancellationToken.None);

        Assert.Null(snapshot.Summary);
        Assert.DoesNotContain("postfix_showq_queue_depth{", metrics, StringComparison.Ordinal);
        Assert.Equal(0, Value(metrics, "mailagent_queue_scrape_success"));
        Assert.Equal(7, Value(metrics, "mailagent_queue_snapshot_age_seconds"));
    }

    [Fact]
    public async Task Malformed_LinesInOutput_CountedAndLoggedOncePerEpisode()
    {
        var output = "garbage\n" + QueueSummarizerTests.Entry("hold", Start.ToUnixTimeSeconds(), 10, ("u@a.test", null)) + "\n{\n";
        _postqueue.ThenPrint(output).ThenPrint(output);
        using var service = CreateService();
        await service.StartAsync(CancellationToken.None);
        var snapshot = await NextSnapshotAsync(null);
        _time.Advance(Options.Interval);
        await NextSnapshotAsync(snapshot);
        await service.StopAsync(CancellationToken.None);

        var metrics = await ScrapeAsync();
        Assert.Equal(4, Value(metrics, "mailagent_queue_malformed_lines_total"));
        Assert.Equal(1, _logger.Count(2004));
    }

    [Fact]
    public async Task Stop_WhilePostqueueHangs_EndsPromptly()
    {
        _postqueue.ThenHang();
        using var service = CreateService();
        await service.StartAsync(CancellationToken.None);
        await _postqueue.HangStarted.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        await service.StopAsync(CancellationToken.None).WaitAsync(Wait);

        Assert.Null(_store.Current);
    }

    private async Task<QueueSnapshot> NextSnapshotAsync(QueueSnapshot? previous) =>
        (await Eventually.UntilAsync(
            () => _store.Current,
            current => current != null && !ReferenceEquals(current, previous),
            Wait,
            _ => $"no new snapshot; postqueue called {_postqueue.Calls} time(s)"))!;

    private async Task<string> ScrapeAsync()
    {
        using var stream = new MemoryStream();
        await _registry.CollectAndExportAsTextAsync(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
