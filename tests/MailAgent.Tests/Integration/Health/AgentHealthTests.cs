using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MailAgent.Tests.Integration.Agent;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Health;

/// <summary>The real agent's /health follows a real private Postfix being stopped and started.</summary>
[Trait("Category", "Integration")]
public sealed class AgentHealthTests(ITestOutputHelper output)
{
    private const string PostfixCommand = "/usr/sbin/postfix";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ReactDeadline = TimeSpan.FromSeconds(5);

    [ServerFact("postfix", "opendkim")]
    public async Task Health_PostfixStoppedAndStarted_UnhealthyWithinFiveSecondsThenHealthy()
    {
        string work = Directory.CreateTempSubdirectory("mailagent-health-").FullName;
        try
        {
            await using var postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { Diagnostics = output.WriteLine });
            await using var agent = await AgentProcess.StartAsync(
                $"LogTailing:Path={postfix.LogPath}",
                $"LogTailing:StateDirectory={work}",
                "LogTailing:PollInterval=00:00:00.200",
                $"Postfix:PostfixPath={PostfixCommand}",
                $"Postfix:ConfigDirectory={postfix.ConfigDirectory}",
                $"Health:SmtpEndpoints=127.0.0.1:{postfix.SmtpPort}",
                $"Health:MilterAddress=127.0.0.1:{postfix.MilterPort}",
                $"Health:QueueDirectory={postfix.QueueDirectory}",
                "Health:Interval=00:00:00.500",
                "Health:CheckTimeout=00:00:03");

            var (ready, _) = await agent.GetAsync("/health/ready");
            Assert.Equal(200, ready);
            Assert.Equal(200, (await agent.GetAsync("/health/live")).Status);
            var healthy = await UntilAsync(agent, r => r.Status == 200, StartDeadline);
            Assert.Equal("healthy", Check(healthy.Body, "postfix"));
            Assert.Equal("healthy", Check(healthy.Body, "smtp"));
            Assert.Equal("healthy", Check(healthy.Body, "milter"));
            Assert.Contains("mailagent_health_check_status{check=\"postfix\"} 1", await agent.ScrapeAsync(), StringComparison.Ordinal);

            await postfix.StopMailSystemAsync();
            var stopped = await UntilAsync(agent, r => r.Status == 503 && Check(r.Body, "postfix") == "unhealthy", ReactDeadline);
            output.WriteLine(stopped.Body);

            await postfix.StartMailSystemAsync();
            var again = await UntilAsync(agent, r => r.Status == 200, StartDeadline);
            Assert.Equal("healthy", Check(again.Body, "postfix"));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [ServerFact("postfix", "opendkim")]
    public async Task Health_OpenDkimStopped_MilterCheckFails()
    {
        string work = Directory.CreateTempSubdirectory("mailagent-health-dkim-").FullName;
        try
        {
            await using var postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { Diagnostics = output.WriteLine });
            await using var agent = await AgentProcess.StartAsync(
                $"LogTailing:Path={postfix.LogPath}",
                $"LogTailing:StateDirectory={work}",
                "Health:Checks=postfix;milter",
                $"Postfix:PostfixPath={PostfixCommand}",
                $"Postfix:ConfigDirectory={postfix.ConfigDirectory}",
                $"Health:MilterAddress=127.0.0.1:{postfix.MilterPort}",
                "Health:Interval=00:00:00.500",
                "Health:CheckTimeout=00:00:03");
            var healthy = await UntilAsync(agent, r => r.Status == 200, StartDeadline);
            Assert.Equal("healthy", Check(healthy.Body, "milter"));

            await postfix.StopOpenDkimAsync();
            var failed = await UntilAsync(agent, r => r.Status == 503 && Check(r.Body, "milter") == "unhealthy", ReactDeadline);
            output.WriteLine(failed.Body);

            Assert.Equal("healthy", Check(failed.Body, "postfix"));
            Assert.Contains($"OpenDKIM milter at 127.0.0.1:{postfix.MilterPort} refuses connections", failed.Body, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [ServerFact("postfix", "opendkim")]
    public async Task Health_OpenDkimOnUnixSocketOnlyInPostfixMilters_HealthyWithNoSettingThenUnhealthyWhenStopped()
    {
        string work = Directory.CreateTempSubdirectory("mailagent-health-dkim-unix-").FullName;
        try
        {
            await using var postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { Diagnostics = output.WriteLine, MilterOnUnixSocket = true });
            // No Health:MilterAddress: the agent asks Postfix (postconf smtpd_milters non_smtpd_milters);
            // no LogTailing:Path either: Postfix's maillog_file is the default.
            await using var agent = await AgentProcess.StartAsync(
                $"LogTailing:StateDirectory={work}",
                "Health:Checks=milter",
                $"Postfix:ConfigDirectory={postfix.ConfigDirectory}",
                "Health:Interval=00:00:01",
                "Health:CheckTimeout=00:00:03");
            var healthy = await UntilAsync(agent, r => r.Status == 200, StartDeadline);
            output.WriteLine(healthy.Body);
            Assert.Contains("unix:" + Path.Combine(postfix.RootDirectory, "dkim", "opendkim.sock"), healthy.Body, StringComparison.Ordinal);
            Assert.Contains($"Log to follow: {postfix.LogPath} (Postfix's maillog_file)", agent.Output, StringComparison.Ordinal);

            await postfix.StopOpenDkimAsync();
            // One health interval (1 s) plus scheduling slack on a loaded machine.
            var failed = await UntilAsync(agent, r => r.Status == 503 && Check(r.Body, "milter") == "unhealthy", ReactDeadline);
            output.WriteLine(failed.Body);
            Assert.Contains("refuses connections", failed.Body, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [ServerFact("postfix", "opendkim")]
    public async Task Systemd_NotifySocketAsPid1_ReadyThenWatchdogPings()
    {
        string work = Directory.CreateTempSubdirectory("mailagent-notify-").FullName;
        try
        {
            string log = Path.Combine(work, "mail.log");
            await File.WriteAllTextAsync(log, "");
            string socketPath = Path.Combine(work, "notify.sock");
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Bind(new UnixDomainSocketEndPoint(socketPath));
            var messages = new List<string>();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var receiving = ReceiveUntilAsync(socket, messages, m => PingsAfterReady(m) >= 2, stop.Token);

            await using var agent = await AgentProcess.StartUnderAsync(
                ["/usr/bin/unshare", "--pid", "--fork", "--kill-child", "--mount-proc"],
                new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = socketPath, ["WATCHDOG_USEC"] = "2000000" },
                $"LogTailing:Path={log}",
                $"LogTailing:StateDirectory={work}",
                "Health:Checks=log;disk",
                $"Health:QueueDirectory={work}",
                "Health:Interval=00:00:00.500");

            await receiving;
            output.WriteLine(string.Join(" | ", messages));
            int ready = messages.FindIndex(m => m.Contains("READY=1", StringComparison.Ordinal));
            Assert.True(ready >= 0, "no READY=1: " + string.Join(" | ", messages) + "\n" + agent.Output);
            Assert.True(PingsAfterReady(messages) >= 2);
            Assert.DoesNotContain(messages.Take(ready), m => m.Contains("WATCHDOG=1", StringComparison.Ordinal));
            Assert.Equal(200, (await agent.GetAsync("/health/ready")).Status);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static int PingsAfterReady(List<string> messages)
    {
        int ready = messages.FindIndex(m => m.Contains("READY=1", StringComparison.Ordinal));
        return ready < 0 ? 0 : messages.Skip(ready + 1).Count(m => m.Contains("WATCHDOG=1", StringComparison.Ordinal));
    }

    private static async Task ReceiveUntilAsync(Socket socket, List<string> messages, Func<List<string>, bool> done, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        while (!done(messages))
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("notify socket: not READY=1 and two WATCHDOG=1 in time; got: " + string.Join(" | ", messages));
            }

            messages.Add(Encoding.UTF8.GetString(buffer, 0, n));
        }
    }

    private static async Task<(int Status, string Body)> UntilAsync(AgentProcess agent, Func<(int Status, string Body), bool> done, TimeSpan deadline)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var last = await agent.GetAsync("/health");
            if (done(last))
                return last;
            if (Stopwatch.GetElapsedTime(started) >= deadline)
                throw new TimeoutException($"/health not as expected within {deadline.TotalSeconds:0.#} s: {last.Status} {last.Body}");
            await Task.Delay(100);
        }
    }

    private static string? Check(string body, string name)
    {
        using var doc = JsonDocument.Parse(body);
        foreach (var check in doc.RootElement.GetProperty("checks").EnumerateArray())
        {
            if (check.GetProperty("name").GetString() == name)
                return check.GetProperty("status").GetString();
        }

        return null;
    }
}
