using System.Text.Json;
using MailAgent.Tests.Queue;

namespace MailAgent.Tests.Cli;

/// <summary><c>mailagent queue</c> with a stand-in postqueue printing the real fixture.</summary>
public sealed class QueueCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mailagent-queue-cli-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task Queue_Json_OneSnapshotOfEveryQueue()
    {
        var postqueue = Script($"cat '{TestData.PathOf("postqueue-j.jsonl")}'");

        var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync("queue", $"Postfix:PostqueuePath={postqueue}", "Queue:TopDomains=2");

        Assert.Equal(0, exitCode);
        Assert.Equal("", stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.True(root.GetProperty("success").GetBoolean());
        Assert.Equal(1550, root.GetProperty("messages").GetInt64());
        var queues = root.GetProperty("queues");
        Assert.Equal(["active", "deferred", "hold", "incoming", "maildrop"], queues.EnumerateObject().Select(p => p.Name));
        Assert.Equal(3_515_149, queues.GetProperty("deferred").GetProperty("bytes").GetInt64());
        Assert.Equal(1795824166, queues.GetProperty("deferred").GetProperty("oldest_arrival").GetInt64());
        Assert.Equal(1550, queues.GetProperty("deferred").GetProperty("age_histogram").EnumerateObject().Sum(p => p.Value.GetInt64()));
        Assert.Equal(JsonValueKind.Null, queues.GetProperty("hold").GetProperty("oldest_arrival").ValueKind);
        Assert.Equal(300, root.GetProperty("deferred_by_reason").GetProperty("refused").GetInt64());
        Assert.Equal(2, root.GetProperty("deferred_top_domains").GetArrayLength());
        Assert.Equal(100, root.GetProperty("deferred_other_domains_recipients").GetInt64());
    }

    [PromtoolFact]
    public async Task Queue_Prometheus_TheDaemonsSeriesPassPromtool()
    {
        var postqueue = Script($"cat '{TestData.PathOf("postqueue-j.jsonl")}'");

        var (exitCode, stdout, _) = await ReplayRunner.RunAsync("queue", "--format", "prometheus", $"Postfix:PostqueuePath={postqueue}");

        Assert.Equal(0, exitCode);
        Assert.Contains("postfix_showq_queue_depth{queue=\"deferred\"} 1550", stdout, StringComparison.Ordinal);
        Assert.Contains("mailagent_queue_scrape_success 1", stdout, StringComparison.Ordinal);
        var (promtoolExit, promtoolOutput) = await ReplayCorpusTests.PromtoolCheckAsync(stdout);
        Assert.True(promtoolExit == 0 && promtoolOutput.Length == 0, $"promtool check metrics exited {promtoolExit}:\n{promtoolOutput}");
    }

    [Fact]
    public async Task Queue_PostqueueFails_ExitOneWithTheReason()
    {
        var postqueue = Script("echo 'postqueue: fatal: Queue report unavailable - mail system is down' >&2; exit 75");

        var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync("queue", $"Postfix:PostqueuePath={postqueue}");

        Assert.Equal(1, exitCode);
        Assert.Contains("\"success\": false", stdout, StringComparison.Ordinal);
        Assert.Contains("postqueue exited with status 75: postqueue: fatal: Queue report unavailable", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Queue_BadSetting_ExitTwoNamingTheKey()
    {
        var (exitCode, _, stderr) = await ReplayRunner.RunAsync("queue", "Queue:TopDomains=-1");

        Assert.Equal(2, exitCode);
        Assert.Contains("Queue:TopDomains = -1 is not valid", stderr, StringComparison.Ordinal);
    }

    private string Script(string body) => StandInScript.Create(_dir.FullName, body);
}
