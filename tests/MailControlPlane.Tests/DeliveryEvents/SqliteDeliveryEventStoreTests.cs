using MailControlPlane.DeliveryEvents;

namespace MailControlPlane.Tests.DeliveryEvents;

public sealed class SqliteDeliveryEventStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Hour = new(2026, 11, 27, 23, 0, 0, TimeSpan.Zero);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cp-events-");
    private SqliteDeliveryEventStore? _store;

    public async Task InitializeAsync()
    {
        _store = new SqliteDeliveryEventStore(Path.Combine(_dir.FullName, "routing.db"), TimeProvider.System);
        await _store.EnsureSchemaAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _store!.DisposeAsync();
        _dir.Delete(recursive: true);
    }

    private static DeliveryEventRow Row(int n, string status, double delay = 1, string severity = "none", string reason = "none", int minute = 0, string hash = "") =>
        new("oregon", $"key{n}", "run1", n, "postfix-oregon", "mail-oregon", $"m{n}@client.example", $"Q{n}", status, "example.net", "", hash,
            status == "bounced" ? "5.1.1" : "2.0.0", severity, reason, "reply", "mx[192.0.2.1]:25", delay, 0, 0, 0, 0, 1, Hour.AddMinutes(minute));

    [Fact]
    public async Task Write_ReplayedKeys_SkippedAndCursorMoved()
    {
        var rows = new[] { Row(1, "delivered"), Row(2, "deferred", severity: "soft", reason: "connection") };
        var cursor = new Dictionary<string, DeliveryCursor> { ["oregon"] = new("run1", 2) };

        int first = await _store!.WriteAsync(rows, cursor, CancellationToken.None);
        int again = await _store.WriteAsync([.. rows, Row(3, "delivered")], new Dictionary<string, DeliveryCursor> { ["oregon"] = new("run1", 3) }, CancellationToken.None);

        Assert.Equal((2, 1), (first, again));
        Assert.Equal(new DeliveryCursor("run1", 3), (await _store.CursorsAsync(CancellationToken.None))["oregon"]);
        Assert.Equal(2L, (await _store.CountsByStatusAsync(CancellationToken.None))["delivered"]);
    }

    [Fact]
    public async Task Outcomes_TwoHours_StatsPerHourWithPercentiles()
    {
        var rows = Enumerable.Range(1, 20).Select(i => Row(i, "delivered", delay: i, minute: 10))
            .Append(Row(21, "bounced", severity: "hard", reason: "unknown_user", minute: 20))
            .Append(Row(22, "bounced", severity: "soft", reason: "mailbox_full", minute: 70))
            .Append(Row(23, "expired", severity: "soft", reason: "expired", minute: 75))
            .Append(Row(24, "deferred", severity: "soft", reason: "connection", minute: 75))
            .ToList();
        await _store!.WriteAsync(rows, new Dictionary<string, DeliveryCursor>(), CancellationToken.None);

        var stats = ProviderStats.Aggregate("postfix-oregon", await _store.OutcomesAsync("postfix-oregon", Hour, Hour.AddHours(2), CancellationToken.None));

        Assert.Equal(2, stats.Count);
        Assert.Equal(new ProviderHourStats("postfix-oregon", Hour, 21, 20, 0, 1, 0, 0, 10, 19), stats[0]);
        Assert.Equal(new ProviderHourStats("postfix-oregon", Hour.AddHours(1), 2, 0, 1, 0, 1, 1, null, null), stats[1]);
    }

    [Fact]
    public async Task SuppressionCandidates_HardUnknownUserOnly_GroupedByRecipientHash()
    {
        await _store!.WriteAsync(
        [
            Row(1, "bounced", severity: "hard", reason: "unknown_user", hash: "h1"),
            Row(2, "bounced", severity: "hard", reason: "unknown_user", minute: 5, hash: "h1"),
            Row(3, "bounced", severity: "hard", reason: "policy", hash: "h2"),
            Row(4, "bounced", severity: "soft", reason: "mailbox_full", hash: "h3"),
        ], new Dictionary<string, DeliveryCursor>(), CancellationToken.None);

        var candidates = await _store.SuppressionCandidatesAsync(Hour.AddDays(-1), CancellationToken.None);

        var c = Assert.Single(candidates);
        Assert.Equal(("h1", 2L, "unknown_user", "5.1.1", Hour, Hour.AddMinutes(5)), (c.RecipientHash, c.Bounces, c.Reason, c.Dsn, c.FirstSeen, c.LastSeen));
    }

    [Fact]
    public async Task Webhook_CursorAndUnsentRows_ReadInIdOrderAfterTheCursorAndCountedBeforeRetention()
    {
        await _store!.WriteAsync([Row(1, "delivered"), Row(2, "delivered", minute: 5), Row(3, "delivered", minute: 10), Row(4, "delivered", minute: 30)],
            new Dictionary<string, DeliveryCursor> { ["oregon"] = new("run1", 4) }, CancellationToken.None);
        Assert.Equal(0L, (await _store.WebhookCursorsAsync(CancellationToken.None))["oregon"]);
        var all = await _store.EventsAfterAsync("oregon", 0, 10, CancellationToken.None);
        Assert.Equal(["key1", "key2", "key3", "key4"], all.Select(r => System.Text.Json.JsonDocument.Parse(r.Json).RootElement.GetProperty("event_key").GetString()));

        await _store.SetWebhookCursorAsync("oregon", all[0].Id, CancellationToken.None);

        Assert.Equal(all[0].Id, (await _store.WebhookCursorsAsync(CancellationToken.None))["oregon"]);
        Assert.Equal(all.Skip(1).Take(2).Select(r => r.Id), (await _store.EventsAfterAsync("oregon", all[0].Id, 2, CancellationToken.None)).Select(r => r.Id));
        // Retention at minute 15 would delete rows 1-3; 2 and 3 were not sent yet.
        Assert.Equal(2L, await _store.WebhookUnsentOlderThanAsync(Hour.AddMinutes(15), CancellationToken.None));
    }

    [Fact]
    public async Task DeleteOlderThan_Cutoff_RemovesOlderRows()
    {
        await _store!.WriteAsync([Row(1, "delivered"), Row(2, "delivered", minute: 30)], new Dictionary<string, DeliveryCursor>(), CancellationToken.None);

        int deleted = await _store.DeleteOlderThanAsync(Hour.AddMinutes(15), CancellationToken.None);

        Assert.Equal(1, deleted);
        Assert.Equal(1L, (await _store.CountsByStatusAsync(CancellationToken.None))["delivered"]);
    }

    [Fact]
    public void Schema_DocsFile_HoldsThePostgresText()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "MailAgent.sln")))
            dir = dir.Parent;
        string docs = File.ReadAllText(Path.Combine(dir!.FullName, "docs", "delivery-events.sql"));

        Assert.Contains(DeliveryEventsSchema.Postgres.Replace("\r", "", StringComparison.Ordinal).Trim(), docs.Replace("\r", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }
}
