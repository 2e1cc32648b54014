using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace MailAgent.Tests.Cli;

/// <summary><c>mailagent doctor</c> end to end on this test host: a resolver and SMTP ports that do not answer.</summary>
public sealed class DoctorCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mailagent-doctor-cli-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static readonly string[] EveryItem =
    [
        "dns.mx", "dns.address", "dns.spf", "dns.dkim", "dns.dmarc", "dns.ptr",
        "reputation.zen", "reputation.dbl", "reputation.dnsbl",
        "transport.mta-sts", "transport.tls-rpt", "transport.certificate", "transport.renewal", "transport.mta-sts-policy", "transport.dane",
        "services.listening", "services.starttls", "services.auth", "services.sasl", "services.open-relay", "services.dkim-signing", "services.postfix-check",
        "host.fail2ban", "host.firewall", "host.updates", "host.disk", "host.memory",
        "platform.provider-row", "platform.control-plane",
    ];

    /// <summary>A loopback port nothing listens on (bound, then released).</summary>
    private static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private string[] Settings() =>
    [
        $"Health:Dns:Resolver=127.0.0.1:{ClosedPort()}", "Health:Dns:Domain=example.test", "Health:Dns:HostName=mail.example.test",
        "Health:Dns:HostAddresses=192.0.2.10", "Doctor:Timeout=00:00:00.5",
        $"Doctor:SmtpPort={ClosedPort()}", $"Doctor:SubmissionsPort={ClosedPort()}", $"Doctor:SubmissionPort={ClosedPort()}",
        "Postfix:PostfixPath=/bin/false", $"Doctor:MtaStsConnectTo=127.0.0.1:{ClosedPort()}", $"Doctor:FirewallRulesFile={Path.Combine(_dir.FullName, "none")}",
        $"Doctor:Fail2banDirectory={_dir.FullName}", $"Doctor:AptPeriodicDirectory={_dir.FullName}", $"Doctor:DiskPath={_dir.FullName}",
    ];

    [Fact]
    public async Task Doctor_Json_ListsEveryItemWithStatusAndExitsOneOnFailures()
    {
        var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync(["doctor", "--format", "json", .. Settings()]);

        Assert.True(exitCode == 1, $"exit {exitCode}: {stderr}");
        using var json = JsonDocument.Parse(stdout);
        var items = json.RootElement.GetProperty("items").EnumerateArray().ToArray();
        Assert.Equal(EveryItem, items.Select(i => i.GetProperty("id").GetString()));
        Assert.All(items, i => Assert.Contains(i.GetProperty("status").GetString(), new[] { "pass", "warn", "fail", "skip" }));
        Assert.All(items, i => Assert.False(string.IsNullOrEmpty(i.GetProperty("fix").GetString())));
        Assert.Equal("fail", json.RootElement.GetProperty("status").GetString());
        Assert.Equal("fail", items.Single(i => i.GetProperty("id").GetString() == "services.listening").GetProperty("status").GetString());
        Assert.Equal("warn", items.Single(i => i.GetProperty("id").GetString() == "dns.mx").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Doctor_Text_GroupsInChecklistOrder()
    {
        var (_, stdout, _) = await ReplayRunner.RunAsync(["doctor", .. Settings()]);

        var groups = stdout.Split('\n').Where(l => l.Length > 0 && !char.IsWhiteSpace(l[0]) && !char.IsDigit(l[0])).ToArray();
        Assert.Equal(["DNS", "Reputation", "Transport security", "Services", "Host", "Platform"], groups);
        Assert.Contains("[FAIL] 25, 465 and 587 listening (services.listening)", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_BadFormat_UsageError()
    {
        var (exitCode, _, stderr) = await ReplayRunner.RunAsync("doctor", "--format", "yaml");

        Assert.Equal(2, exitCode);
        Assert.Contains("--format 'yaml' is not one of text, json", stderr, StringComparison.Ordinal);
    }
}
