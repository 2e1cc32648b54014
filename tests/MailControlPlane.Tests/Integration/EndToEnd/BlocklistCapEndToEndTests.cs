using System.Security.Cryptography;
using MailAgent.Tests.Integration;
using MailControlPlane.Hosting;
using MailControlPlane.Registry;
using MailControlPlane.Scoring;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace MailControlPlane.Tests.Integration.EndToEnd;

/// <summary>
/// "Listed on ZEN means a cap", end to end: dnsmasq on loopback answers the ZEN query for the host's address with 127.0.0.2
/// (listed) or 127.255.255.254 (the list refused the resolver); a real agent runs its blocklist check against it; the control
/// plane in process caps the score at Scoring:BlocklistCap only for the listing.
/// </summary>
[Trait("Category", "Integration")]
public sealed class BlocklistCapEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Provider = "postfix-oregon";
    private const string Domain = "example.test";
    private const string HostAddress = "192.0.2.10";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cp-blocklist-" + Guid.NewGuid().ToString("N")[..8]);
    private ChildProcess? _dnsmasq;
    private AgentDaemon? _agent;
    private WebApplication? _app;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        await AgentDaemon.PkiInitAsync(Path.Combine(_dir, "pki"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "empty.json"), "{}\n");
        // An existing log keeps the log check healthy: the blocklist check is then the only one below healthy.
        await File.WriteAllTextAsync(Path.Combine(_dir, "mail.log"), "");
        using var key = RSA.Create(2048);
        await File.WriteAllTextAsync(Path.Combine(_dir, "mail.private"), key.ExportRSAPrivateKeyPem());
    }

    public async Task DisposeAsync()
    {
        if (_app != null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (_agent != null)
            await _agent.DisposeAsync();
        if (_dnsmasq != null)
            await _dnsmasq.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private string Pki(string file) => Path.Combine(_dir, "pki", file);

    /// <summary>dnsmasq serving only the two Spamhaus zones, the host's ZEN query answered with <paramref name="answer"/>.</summary>
    private async Task<int> StartDnsmasqAsync(string answer)
    {
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int port = AgentDaemon.FreePort();
            var reversed = string.Join('.', HostAddress.Split('.').Reverse());
            _dnsmasq = ChildProcess.Start("dnsmasq", "/usr/sbin/dnsmasq",
            [
                "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--bind-interfaces",
                "--listen-address=127.0.0.1", $"--port={port}", "--pid-file", "--log-facility=-", "--cache-size=0", "--user=root",
                $"--host-record={reversed}.zen.spamhaus.org,{answer}", "--local=/zen.spamhaus.org/", "--local=/dbl.spamhaus.org/",
            ], new Dictionary<string, string?>());
            // dnsmasq says "started" once its sockets are bound, and exits when the port was taken meanwhile.
            var seen = await Eventually.UntilAsync(() => (_dnsmasq.HasExited, _dnsmasq.Output), s => s.HasExited || s.Output.Contains("started, version", StringComparison.Ordinal),
                TimeSpan.FromSeconds(15), s => _dnsmasq.Describe());
            if (!seen.HasExited)
                return port;
            output.WriteLine(_dnsmasq.Describe());
            await _dnsmasq.DisposeAsync();
        }

        throw new InvalidOperationException("dnsmasq did not start: " + _dnsmasq?.Describe());
    }

    private async Task StartAsync(string answer)
    {
        int dnsPort = await StartDnsmasqAsync(answer);
        int agentPort = AgentDaemon.FreePort();
        _agent = await AgentDaemon.StartAsync(
            "--config", Path.Combine(_dir, "empty.json"),
            $"LogTailing:Path={Path.Combine(_dir, "mail.log")}", $"LogTailing:StateDirectory={_dir}", "LogTailing:StartAt=Beginning",
            $"Grpc:Listen=127.0.0.1:{agentPort}", $"Grpc:CaFile={Pki("ca.crt")}", $"Grpc:CertificateFile={Pki("agent.crt")}", $"Grpc:KeyFile={Pki("agent.key")}",
            "Grpc:ReadClients=control-plane", "Queue:Enabled=false",
            "Health:Checks=log;blocklist", "Health:Interval=00:00:01", "Health:SlowInterval=00:00:01",
            $"Health:Dns:Resolver=127.0.0.1:{dnsPort}", $"Health:Dns:Domain={Domain}", $"Health:Dns:HostAddresses={HostAddress}",
            "Health:Dns:HostName=mail.example.test", "Health:Dns:DkimSelector=mail", $"Health:Dns:DkimKeyFile={Path.Combine(_dir, "mail.private")}",
            "Health:Dns:Timeout=00:00:01");

        string[] args =
        [
            "Agents:0:Name=oregon", $"Agents:0:Address=https://localhost:{agentPort}", "Agents:0:Region=us-west-2", $"Agents:0:ProviderName={Provider}",
            $"Tls:CaFile={Pki("ca.crt")}", $"Tls:CertificateFile={Pki("client.crt")}", $"Tls:KeyFile={Pki("client.key")}",
            "Connections:StatusInterval=00:00:00.5", "Connections:BackoffMin=00:00:00.1", "Connections:BackoffMax=00:00:01",
            "Http:Urls=http://127.0.0.1:0", "Grpc:Listen=", $"Routing:SqlitePath={Path.Combine(_dir, "routing.db")}",
            "Scoring:EvaluationInterval=00:00:00.5", "Scoring:EwmaAlpha=1", "Log:FilePath=",
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
    }

    private ProviderAssessment? Latest() =>
        _app!.Services.GetRequiredService<ProviderBoard>().Latest().FirstOrDefault(a => a.ProviderName == Provider);

    private string Describe(ProviderAssessment? a) =>
        (a is { } x ? $"{x.State} {x.Score} ({x.Reason})" : "no verdict") + "\nagent:\n" + _agent?.Output + "\ndnsmasq: " + _dnsmasq?.Describe();

    [ServerFact("dnsmasq")]
    public async Task BlocklistCheck_ListedOnZen_ScoreCappedAt20()
    {
        await StartAsync("127.0.0.2");

        var a = await Eventually.UntilAsync(() => Latest(), x => x != null && x.Reason.Contains("capped at 20", StringComparison.Ordinal), Deadline, Describe);

        Assert.True(a!.Score <= 20, Describe(a));
        Assert.Contains($"capped at 20: listed on a DNS blocklist: {HostAddress} is LISTED on zen.spamhaus.org (127.0.0.2 SBL)", a.Reason, StringComparison.Ordinal);
    }

    [ServerFact("dnsmasq")]
    public async Task BlocklistCheck_RefusedAnswer_NoCap()
    {
        await StartAsync("127.255.255.254");

        // The refused answer reaches the scorer as a degraded check (the checks component), never as a cap.
        var a = await Eventually.UntilAsync(() => Latest(), x => x != null && x.Reason.Contains("worst is blocklist degraded", StringComparison.Ordinal), Deadline, Describe);

        Assert.DoesNotContain("capped", a!.Reason, StringComparison.Ordinal);
        Assert.True(a.Score > 20, Describe(a));
        Assert.Contains("zen.spamhaus.org refused the query for 192.0.2.10 (127.255.255.254", a.Reason, StringComparison.Ordinal);
    }
}
