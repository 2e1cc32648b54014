using System.Text;
using MailAgent.Queue;
using MailAgent.Tests.Integration.Postfix;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Prometheus;
using Xunit.Abstractions;
using static MailAgent.Tests.Integration.Agent.AgentProcess;
using static MailAgent.Tests.Integration.Postfix.PrivatePostfix;

namespace MailAgent.Tests.Integration.Queue;

/// <summary>The inspector, registered as the daemon registers it, against a real private Postfix with a parked queue.</summary>
[Trait("Category", "Integration")]
public sealed class QueueInspectorIntegrationTests(ITestOutputHelper output)
{
    private const string Postsuper = "/usr/sbin/postsuper";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [ServerFact("postfix")]
    public async Task Inspect_DeferredAndHeldMessages_DepthPerQueueAgeAndReasonClasses()
    {
        var started = TimeProvider.System.GetUtcNow();
        // Retries an hour apart: once deferred, a message stays in the deferred queue for the whole test.
        var hour = TimeSpan.FromHours(1);
        await using var postfix = await StartAsync(new PrivatePostfixOptions
        {
            QueueRunDelay = hour,
            MinimalBackoffTime = hour,
            MaximalBackoffTime = hour,
            Diagnostics = output.WriteLine,
        });

        // 3 answered "451 4.7.1 Greylisting in action", 4 whose next hop refuses the connection; 2 of those then held.
        await Task.WhenAll(
            postfix.SendWithSmtpSourceAsync(3, DeferDomain, subject: "deferred 4.7.1"),
            postfix.SendWithSmtpSourceAsync(4, UnreachableDomain, subject: "connection refused"));
        var queue = await Eventually.UntilAsync(
            postfix.GetQueueAsync,
            q => q.Count == 7 && q.All(m => m.QueueName == "deferred"),
            Timeout,
            Describe);
        var held = queue.Where(m => m.Recipients.All(r => r.EndsWith("@" + UnreachableDomain, StringComparison.Ordinal))).Take(2).Select(m => m.QueueId).ToArray();
        Assert.Equal(2, held.Length);
        await Tool.RunAsync(Postsuper, ["-c", postfix.ConfigDirectory, "-h", held[0], "-h", held[1]], CancellationToken.None);
        await Eventually.UntilAsync(
            postfix.GetQueueAsync,
            q => q.Count(m => m.QueueName == "hold") == 2 && q.Count(m => m.QueueName == "deferred") == 5,
            Timeout,
            Describe);

        var registry = Prometheus.Metrics.NewCustomRegistry();
        var services = new ServiceCollection()
            .AddLogging()
            .AddSingleton(TimeProvider.System)
            .AddSingleton(registry)
            .AddQueueInspection(new QueueOptions { TopDomains = 5 }, new MailAgent.Postfix.PostfixOptions { PostqueuePath = "/usr/sbin/postqueue", ConfigDirectory = postfix.ConfigDirectory });
        await using var provider = services.BuildServiceProvider();
        var hosted = provider.GetServices<IHostedService>().ToList();
        Assert.Single(hosted);
        await hosted[0].StartAsync(CancellationToken.None);
        var source = provider.GetRequiredService<IQueueSnapshotSource>();
        var snapshot = await Eventually.UntilAsync(() => source.Current, s => s != null, Timeout, _ => "no snapshot yet");
        var metrics = await ScrapeAsync(registry);
        await hosted[0].StopAsync(CancellationToken.None);

        Assert.NotNull(snapshot);
        Assert.True(snapshot.Succeeded, snapshot.Error);
        var summary = snapshot.Summary!;
        output.WriteLine($"postqueue -j and summary took {snapshot.Duration.TotalMilliseconds:0} ms");
        Assert.Equal(0, summary.MalformedLines);
        Assert.Equal(5, summary[PostfixQueue.Deferred].Messages);
        Assert.Equal(2, summary[PostfixQueue.Hold].Messages);
        Assert.Equal(0, summary[PostfixQueue.Active].Messages);
        Assert.Equal(0, summary[PostfixQueue.Incoming].Messages);
        Assert.Equal(0, summary[PostfixQueue.Maildrop].Messages);
        Assert.True(summary[PostfixQueue.Deferred].Bytes > 5 * 100);

        // arrival_time is in whole seconds, so an age may exceed the time since the test began by under a second.
        double sinceStart = (snapshot.TakenAt - started).TotalSeconds + 1;
        foreach (var parked in new[] { PostfixQueue.Deferred, PostfixQueue.Hold })
        {
            double age = summary.OldestAgeSeconds(parked);
            Assert.InRange(age, 0, sinceStart);
            Assert.Equal(summary[parked].Messages, summary[parked].AgeBucketCounts.Sum());
        }

        Assert.Equal(3, summary.Deferred(DeferralReason.GreylistRateLimit));
        Assert.Equal(2, summary.Deferred(DeferralReason.Refused));
        Assert.Equal(5, summary.DeferredByReason.Sum());
        Assert.Equal([new DomainCount(DeferDomain, 3), new DomainCount(UnreachableDomain, 2)], summary.TopDeferredDomains);

        Assert.Equal(5, Value(metrics, "postfix_showq_queue_depth", "queue=\"deferred\""));
        Assert.Equal(2, Value(metrics, "postfix_showq_queue_depth", "queue=\"hold\""));
        Assert.Equal(0, Value(metrics, "postfix_showq_queue_depth", "queue=\"active\""));
        Assert.Equal(3, Value(metrics, "postfix_deferred_by_reason", "reason_class=\"greylist_rate_limit\""));
        Assert.Equal(2, Value(metrics, "postfix_deferred_by_reason", "reason_class=\"refused\""));
        Assert.Equal(1, Value(metrics, "mailagent_queue_scrape_success"));
    }

    private static string Describe(IReadOnlyList<PostfixQueueEntry> queue) =>
        $"{queue.Count} queued: " + string.Join("; ", queue.Select(m => $"{m.QueueId} {m.QueueName} to {string.Join(',', m.Recipients)}"));

    private static async Task<string> ScrapeAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
