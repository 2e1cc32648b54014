using System.Diagnostics;
using System.Text.RegularExpressions;
using MailControlPlane.Connections;
using MailControlPlane.Hosting;
using MailControlPlane.Registry;
using MailControlPlane.Scoring;
using MailControlPlane.Tests.Integration.EndToEnd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace MailControlPlane.Tests.Integration.StatusPage;

/// <summary>
/// The status page in headless Chromium (Debian's chromium) during a <c>make run</c> style scenario:
/// two real agents tailing logs this test writes, the control plane with its SQLite routing table.
/// One provider goes bad and comes back; the page's routing order and chart follow. Screenshots
/// are saved under artifacts/test-results/status-page/ (or $MAILAGENT_TEST_ARTIFACTS).
/// </summary>
public sealed partial class StatusPageChromiumTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cp-page-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<AgentDaemon> _agents = [];
    private readonly Dictionary<string, LogFeeder> _logs = [];
    private readonly Dictionary<string, int> _ports = [];
    private WebApplication? _app;
    private string _url = "";

    private string Pki(string file) => Path.Combine(_dir, "pki", file);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        await AgentDaemon.PkiInitAsync(Path.Combine(_dir, "pki"));
    }

    public async Task DisposeAsync()
    {
        if (_app != null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        foreach (var agent in _agents)
            await agent.DisposeAsync();
        foreach (var log in _logs.Values)
            await log.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static string Chromium => File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium" : throw new InvalidOperationException("chromium is not installed: make deps");

    private static string ArtifactsDirectory()
    {
        var configured = Environment.GetEnvironmentVariable("MAILAGENT_TEST_ARTIFACTS");
        if (!string.IsNullOrEmpty(configured))
            return Path.Combine(configured, "status-page");
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "MailAgent.sln")))
            dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? Path.GetTempPath(), "artifacts", "test-results", "status-page");
    }

    private async Task StartAgentAsync(string name)
    {
        string state = Path.Combine(_dir, name);
        Directory.CreateDirectory(state);
        _ports[name] = AgentDaemon.FreePort();
        _logs[name] = new LogFeeder(Path.Combine(state, "mail.log"), name.Replace("postfix-", "mail-", StringComparison.Ordinal));
        _agents.Add(await AgentDaemon.StartAsync(
            $"LogTailing:Path={_logs[name].Path}", $"LogTailing:StateDirectory={state}", "LogTailing:StartAt=Beginning",
            $"Grpc:Listen=127.0.0.1:{_ports[name]}", $"Grpc:CaFile={Pki("ca.crt")}", $"Grpc:CertificateFile={Pki("agent.crt")}", $"Grpc:KeyFile={Pki("agent.key")}",
            "Grpc:ReadClients=control-plane", "Grpc:WriteClients=control-plane", "Health:Checks=log", "Queue:Enabled=false"));
    }

    private async Task StartControlPlaneAsync()
    {
        string[] args =
        [
            "Agents:0:Name=postfix-oregon", $"Agents:0:Address=https://localhost:{_ports["postfix-oregon"]}", "Agents:0:Region=us-west-2", "Agents:0:ProviderName=postfix-oregon",
            "Agents:1:Name=postfix-virginia", $"Agents:1:Address=https://localhost:{_ports["postfix-virginia"]}", "Agents:1:Region=us-east-1", "Agents:1:ProviderName=postfix-virginia",
            $"Tls:CaFile={Pki("ca.crt")}", $"Tls:CertificateFile={Pki("client.crt")}", $"Tls:KeyFile={Pki("client.key")}",
            "Connections:StatusInterval=00:00:01", "Connections:HeartbeatTimeout=00:00:30", "Connections:BackoffMin=00:00:00.1", "Connections:BackoffMax=00:00:01",
            "Http:Urls=http://127.0.0.1:0",
            // The end-to-end test's fast scoring: the ejection outlasts the delivery window, so probation starts once the failures aged out.
            "Scoring:EvaluationInterval=00:00:00.5", "Scoring:DeliveryWindow=00:01:00", "Scoring:DeliveryBucket=00:00:01",
            "Scoring:FailedEvaluations=2", "Scoring:DeactivateAfterFailedEvaluations=4",
            "Scoring:EjectionBase=00:01:05", "Scoring:EjectionMax=00:01:05", "Scoring:EjectionJitter=0", "Scoring:HeartbeatFreezeAfter=00:00:05", "Scoring:HeartbeatZeroAfter=00:00:10",
            $"Routing:SqlitePath={Path.Combine(_dir, "routing.db")}", "Routing:WriteInterval=00:00:00.2", "Routing:HealthLogInterval=00:00:10",
            "Log:FilePath=",
        ];
        var config = ControlPlaneConfiguration.Build(args, out _, out var errors);
        errors.AddRange(ControlPlaneConfiguration.Validate(config, out var settings));
        Assert.Empty(errors);
        _app = ControlPlaneHost.Build(settings, TimeProvider.System, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new XunitLoggerProvider(output));
        });
        await ControlPlaneHost.StartAsync(_app, settings);
        _url = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First(a => a.StartsWith("http://", StringComparison.Ordinal)) + "/";
    }

    private ProviderAssessment? Latest(string provider) =>
        _app!.Services.GetRequiredService<ProviderBoard>().Latest().FirstOrDefault(a => a.ProviderName == provider);

    private string Board() => string.Join("; ", _app!.Services.GetRequiredService<ProviderBoard>().Latest().Select(a => $"{a.ProviderName} {a.State} {a.Score} active={a.IsActive}"));

    /// <summary>What the page shows after its script ran: routing order (positioned rows) and, per chart, last and lowest score.</summary>
    private sealed record Page(IReadOnlyList<string> Order, IReadOnlyList<string> OutOfRotation, IReadOnlyDictionary<string, (int Last, int Min)> Charts, string Dom);

    private async Task<Page> LoadAsync()
    {
        string dom = await RunChromiumAsync("--dump-dom", _url);
        var order = new List<string>();
        var outOf = new List<string>();
        foreach (Match row in RoutingRow().Matches(dom))
            (row.Groups["out"].Success ? outOf : order).Add(row.Groups["name"].Value);
        var charts = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        foreach (Match svg in ChartTag().Matches(dom))
        {
            var tag = svg.Value;
            var name = Attribute(tag, "data-provider");
            if (int.TryParse(Attribute(tag, "data-last-score"), out var last) && int.TryParse(Attribute(tag, "data-min-score"), out var min))
                charts[name] = (last, min);
        }

        return new Page(order, outOf, charts, dom);
    }

    private static string Attribute(string tag, string name)
    {
        var m = Regex.Match(tag, name + "=\"([^\"]*)\"");
        return m.Success ? m.Groups[1].Value : "";
    }

    private async Task ScreenshotAsync(string name)
    {
        var directory = ArtifactsDirectory();
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name + ".png");
        await RunChromiumAsync($"--screenshot={path}", "--window-size=1280,1500", _url);
        Assert.True(File.Exists(path), $"no screenshot at {path}");
        output.WriteLine($"screenshot: {path}");
    }

    private async Task<string> RunChromiumAsync(params string[] args)
    {
        var info = new ProcessStartInfo(Chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--user-data-dir=" + Path.Combine(_dir, "chromium"), "--virtual-time-budget=10000" })
            info.ArgumentList.Add(a);
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("chromium did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"chromium exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }

    private Task<Page> UntilPageAsync(Func<Page, bool> done, TimeSpan timeout, string what) =>
        Eventually.UntilAsync(_ => LoadAsync(), done, timeout,
            p => $"{what}; page order [{string.Join(", ", p.Order)}], out [{string.Join(", ", p.OutOfRotation)}], charts {string.Join("; ", p.Charts.Select(c => $"{c.Key} last {c.Value.Last} min {c.Value.Min}"))}; board {Board()}");

    [Fact]
    public async Task StatusPage_ProviderGoesBadAndBack_RoutingOrderAndChartFollow()
    {
        await StartAgentAsync("postfix-oregon");
        await StartAgentAsync("postfix-virginia");
        await StartControlPlaneAsync();
        output.WriteLine($"status page: {_url}");

        // Both healthy: the operators' order, the paid provider last; charts for both agents' providers.
        await Eventually.UntilAsync(() => Board(), _ => Latest("postfix-oregon")?.State == ProviderState.Healthy && Latest("postfix-virginia")?.State == ProviderState.Healthy
            && _app!.Services.GetRequiredService<AgentConnections>().ConnectedCount == 2, TimeSpan.FromSeconds(60), b => $"board {b}");
        var healthy = await UntilPageAsync(p => p.Order.SequenceEqual(["postfix-oregon", "postfix-virginia", "elastic-email"])
            && p.Charts.TryGetValue("postfix-oregon", out var o) && o.Last >= 50, TimeSpan.FromSeconds(60), "healthy page");
        Assert.Contains("<caption>Providers in routing order</caption>", healthy.Dom, StringComparison.Ordinal);
        Assert.Matches("<th scope=\"row\">postfix-oregon</th>", healthy.Dom);
        await ScreenshotAsync("1-healthy");

        // Oregon fails: the page puts it behind virginia (or out of rotation) and its chart drops below 50.
        _logs["postfix-oregon"].Bad = true;
        var bad = await UntilPageAsync(p => p.Order.Contains("postfix-virginia")
            && (!p.Order.Contains("postfix-oregon") || p.Order.ToList().IndexOf("postfix-oregon") > p.Order.ToList().IndexOf("postfix-virginia"))
            && p.Charts.TryGetValue("postfix-oregon", out var o) && o.Last < 50 && o.Min < 50, TimeSpan.FromSeconds(60), "oregon bad");
        output.WriteLine($"bad: order [{string.Join(", ", bad.Order)}], out [{string.Join(", ", bad.OutOfRotation)}]");
        await ScreenshotAsync("2-oregon-bad");

        // And back: first again, healthy, and the chart shows both the dip and the recovery.
        _logs["postfix-oregon"].Bad = false;
        var back = await UntilPageAsync(p => p.Order.Count > 0 && p.Order[0] == "postfix-oregon"
            && p.Charts.TryGetValue("postfix-oregon", out var o) && o.Last >= 50 && o.Min < 50
            && Latest("postfix-oregon")?.State == ProviderState.Healthy, TimeSpan.FromSeconds(240), "oregon back");
        Assert.Equal(["postfix-oregon", "postfix-virginia", "elastic-email"], back.Order);
        await ScreenshotAsync("3-oregon-back");
    }

    [GeneratedRegex("<tr data-provider=\"(?<name>[^\"]+)\"(?<out> class=\"out\")?>")]
    private static partial Regex RoutingRow();

    [GeneratedRegex("<svg [^>]*data-provider=\"[^\"]+\"[^>]*>")]
    private static partial Regex ChartTag();
}
