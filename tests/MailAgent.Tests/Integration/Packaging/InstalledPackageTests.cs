using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MailAgent.Tests.Integration.Agent;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Packaging;

/// <summary>
/// The agent as the mailagent package installs it (Native AOT, /usr/bin/mailagent), run against the
/// private Postfix instance; and the packaged alert rules and dashboard checked against the series
/// that binary really exports. tests/run-tests.sh builds and installs the packages first
/// (packaging/test/check-packages.sh) and purges them afterwards.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class InstalledPackageTests(ITestOutputHelper output)
{
    private const string PostfixCommand = "/usr/sbin/postfix";
    private const string RulesFile = "/usr/share/mailagent/prometheus/mailagent.rules.yml";
    private const string DashboardFile = "/usr/share/mailagent/grafana/mailagent.json";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    /// <summary>Series the rules and dashboard use that come from work not merged yet (config apply, certificates, control plane).</summary>
    private static readonly string[] PlannedSeries =
    [
        "mailagent_config_applies_total",
        "mailagent_tls_certificate_expiry_seconds",
        "mailagent_cp_provider_state",
        "mailagent_cp_provider_score",
    ];

    [InstalledPackageFact]
    public async Task InstalledAgent_AgainstPrivatePostfix_ServesLogQueueAndHealthMetrics()
    {
        string binary = InstalledPackageFactAttribute.Binary!;
        string work = Directory.CreateTempSubdirectory("mailagent-installed-").FullName;
        try
        {
            await using var postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { Diagnostics = output.WriteLine });
            var started = Stopwatch.GetTimestamp();
            await using var agent = await AgentProcess.StartExecutableAsync(
                [binary],
                new Dictionary<string, string?>(),
                $"LogTailing:Path={postfix.LogPath}",
                $"LogTailing:StateDirectory={work}",
                "LogTailing:StartAt=Beginning",
                "LogTailing:PollInterval=00:00:00.200",
                "Postfix:PostqueuePath=/usr/sbin/postqueue",
                $"Postfix:ConfigDirectory={postfix.ConfigDirectory}",
                "Queue:Interval=00:00:01",
                "Queue:Timeout=00:00:01",
                $"Postfix:PostfixPath={PostfixCommand}",
                $"Postfix:ConfigDirectory={postfix.ConfigDirectory}",
                $"Health:SmtpEndpoints=127.0.0.1:{postfix.SmtpPort}",
                $"Health:MilterAddress=127.0.0.1:{postfix.MilterPort}",
                $"Health:QueueDirectory={postfix.QueueDirectory}",
                "Health:Interval=00:00:00.500");
            var listening = Stopwatch.GetElapsedTime(started);

            await Task.WhenAll(
                postfix.SendWithSmtpSourceAsync(3, PrivatePostfix.AcceptDomain, subject: "installed agent, sent"),
                postfix.SendWithSmtpSourceAsync(1, PrivatePostfix.BounceDomain, subject: "installed agent, bounced"));
            string metrics = await Eventually.UntilAsync(
                _ => agent.ScrapeAsync(),
                m => AgentProcess.Value(m, "postfix_delivery_status_total", "service=\"smtp\"", "status=\"sent\"") >= 3
                    && AgentProcess.Value(m, "postfix_delivery_status_total", "service=\"smtp\"", "status=\"bounced\"") >= 1
                    && AgentProcess.Value(m, "mailagent_queue_scrape_success") == 1
                    && AgentProcess.Value(m, "mailagent_health_check_status", "check=\"postfix\"") == 1,
                Deadline,
                m => "installed agent's /metrics:\n" + string.Join('\n', m.Split('\n').Where(l => l.StartsWith("postfix_delivery_status_total", StringComparison.Ordinal) || l.StartsWith("mailagent_queue_scrape_success", StringComparison.Ordinal) || l.StartsWith("mailagent_health_check_status", StringComparison.Ordinal)))
                    + "\nagent output:\n" + agent.Output);

            Assert.Equal(5, metrics.Split('\n').Count(l => l.StartsWith("postfix_showq_queue_depth{", StringComparison.Ordinal)));
            Assert.True(AgentProcess.Value(metrics, "mailagent_log_lines_total") > 0);
            long rssKib = ReadRssKib(agent.Pid);
            output.WriteLine(FormattableString.Invariant(
                $"installed agent {binary}: {new FileInfo(binary).Length} bytes, start to listening {listening.TotalMilliseconds:0} ms (under a loaded test run), RSS after the scrape {rssKib / 1024.0:0.0} MiB"));

            // The packaged rules and dashboard use only series this binary exports, or that come with work in progress.
            var known = SeriesNames(metrics);
            known.UnionWith(SeriesNames(await ReplayCorpusAsync(binary)));
            known.UnionWith(PlannedSeries);
            foreach (var file in new[] { RulesFile, DashboardFile })
            {
                var used = MetricName().Matches(await File.ReadAllTextAsync(file)).Select(m => BaseName(m.Value, known)).ToHashSet();
                Assert.NotEmpty(used);
                var unknown = used.Where(n => !known.Contains(n)).Order(StringComparer.Ordinal).ToList();
                Assert.True(unknown.Count == 0, $"{file} uses series the agent does not export: {string.Join(", ", unknown)}");
                output.WriteLine($"{file}: {used.Count} series, all exported or planned");
            }

            using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(DashboardFile));
            var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row").ToList();
            Assert.NotEmpty(panels);
            var ids = new HashSet<int>();
            foreach (var panel in panels)
            {
                Assert.True(ids.Add(panel.GetProperty("id").GetInt32()), "panel ids repeat");
                Assert.False(string.IsNullOrWhiteSpace(panel.GetProperty("title").GetString()));
                var targets = panel.GetProperty("targets").EnumerateArray().ToList();
                Assert.NotEmpty(targets);
                Assert.All(targets, t => Assert.False(string.IsNullOrWhiteSpace(t.GetProperty("expr").GetString())));
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [InstalledPackageFact]
    public async Task InstalledAgent_HelpForEveryCommand_PrintsManStyleSections()
    {
        string binary = InstalledPackageFactAttribute.Binary!;
        var (code, usage) = await RunAsync(binary, "help");
        Assert.Equal(0, code);
        var commands = UsageCommand().Matches(usage).Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.Contains("run", commands);
        foreach (var command in commands)
        {
            foreach (var args in new[] { new[] { "help", command }, new[] { command, "--help" } })
            {
                var (exit, page) = await RunAsync(binary, args);
                Assert.True(exit == 0, $"mailagent {string.Join(' ', args)} exited {exit}:\n{page}");
                foreach (var section in new[] { "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "FILES", "EXAMPLES" })
                    Assert.True(page.Contains("\n" + section + "\n", StringComparison.Ordinal) || page.StartsWith(section + "\n", StringComparison.Ordinal), $"mailagent {string.Join(' ', args)}: no {section} section:\n{page}");
            }
        }

        output.WriteLine($"man-style help for: {string.Join(", ", commands)}");
    }

    /// <summary>
    /// As the unit runs it: PID 1 with NOTIFY_SOCKET and WATCHDOG_USEC (Type=notify, WatchdogSec=), as user
    /// mailagent with the groups the package gave it and no_new_privs (NoNewPrivileges=yes).
    /// </summary>
    [InstalledPackageFact]
    public async Task InstalledAgent_AsServiceUserPid1WithNotifySocket_ReadyThenWatchdogPings()
    {
        string binary = InstalledPackageFactAttribute.Binary!;
        string work = Directory.CreateTempSubdirectory("mailagent-installed-notify-").FullName;
        try
        {
            // The service user must reach the log, its state directory and the socket.
            OpenTo(work, (UnixFileMode)0x1FF);
            string log = Path.Combine(work, "mail.log");
            await File.WriteAllTextAsync(log, "");
            string state = Directory.CreateDirectory(Path.Combine(work, "state")).FullName;
            OpenTo(state, (UnixFileMode)0x1FF);
            string socketPath = Path.Combine(work, "notify.sock");
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Bind(new UnixDomainSocketEndPoint(socketPath));
            OpenTo(socketPath, (UnixFileMode)0x1B6);
            var messages = new List<string>();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var receiving = ReceiveUntilAsync(socket, messages, m => PingsAfterReady(m) >= 2, stop.Token);

            await using var agent = await AgentProcess.StartExecutableAsync(
                ["/usr/bin/unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
                 "/usr/bin/setpriv", "--reuid=mailagent", "--regid=mailagent", "--init-groups", "--no-new-privs", binary],
                new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = socketPath, ["WATCHDOG_USEC"] = "2000000" },
                $"LogTailing:Path={log}",
                $"LogTailing:StateDirectory={state}",
                "Health:Checks=log;disk",
                $"Health:QueueDirectory={work}",
                "Health:Interval=00:00:00.500",
                "Queue:Enabled=false");

            await receiving;
            output.WriteLine(string.Join(" | ", messages));
            int ready = messages.FindIndex(m => m.Contains("READY=1", StringComparison.Ordinal));
            Assert.True(ready >= 0, "no READY=1: " + string.Join(" | ", messages) + "\n" + agent.Output);
            Assert.DoesNotContain(messages.Take(ready), m => m.Contains("WATCHDOG=1", StringComparison.Ordinal));
            Assert.Equal(200, (await agent.GetAsync("/health/ready")).Status);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static void OpenTo(string path, UnixFileMode mode)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("the installed package runs on Linux only");
        File.SetUnixFileMode(path, mode);
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

    private static async Task<string> ReplayCorpusAsync(string binary)
    {
        string corpus = Path.Combine(AppContext.BaseDirectory, "data", "real-postfix-3.7.log.gz");
        var (code, text) = await RunAsync(binary, "replay", corpus, "--format", "prometheus");
        Assert.Equal(0, code);
        return text;
    }

    private static async Task<(int Code, string Output)> RunAsync(string binary, params string[] args)
    {
        var info = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Names in a Prometheus exposition: sample lines and # TYPE lines (a family with no child yet).</summary>
    private static HashSet<string> SeriesNames(string exposition)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
                names.Add(line.Split(' ')[2]);
            else if (line.Length > 0 && line[0] != '#')
                names.Add(line[..line.IndexOfAny(['{', ' '])]);
        }

        return names;
    }

    /// <summary>A histogram's _bucket/_sum/_count name maps to its family when the family is known.</summary>
    private static string BaseName(string name, HashSet<string> known)
    {
        foreach (var suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && !known.Contains(name) && known.Contains(name[..^suffix.Length]))
                return name[..^suffix.Length];
        }

        return name;
    }

    private static long ReadRssKib(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }

        return 0;
    }

    [GeneratedRegex(@"\b(?:postfix|mailagent|opendkim)_[a-z0-9_]*[a-z0-9]")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^  mailagent ([a-z][a-z-]*)", RegexOptions.Multiline)]
    private static partial Regex UsageCommand();
}

/// <summary>
/// A fact that needs the installed mailagent package: tests/run-tests.sh installs it and sets
/// MAILAGENT_INSTALLED_BINARY=/usr/bin/mailagent (packaging/test/check-packages.sh).
/// </summary>
public sealed class InstalledPackageFactAttribute : FactAttribute
{
    public static string? Binary => Environment.GetEnvironmentVariable("MAILAGENT_INSTALLED_BINARY");

    public InstalledPackageFactAttribute()
    {
        if (string.IsNullOrEmpty(Binary))
            Skip = "MAILAGENT_INSTALLED_BINARY is not set: tests/run-tests.sh builds and installs the packages first";
    }
}
