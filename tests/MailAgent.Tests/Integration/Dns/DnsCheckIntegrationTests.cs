using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using MailAgent.Health;
using MailAgent.Health.Dns;
using MailAgent.Tests.Integration.Agent;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Dns;

/// <summary>The dns check against dnsmasq on loopback serving good and bad SPF, DKIM, DMARC and PTR records.</summary>
[Trait("Category", "Integration")]
public sealed class DnsCheckIntegrationTests(ITestOutputHelper output) : IDisposable
{
    private const string Domain = "example.test";
    private const string Selector = "mail-2026";
    private const string HostName = "mail.example.test";
    private static readonly IPAddress HostAddress = IPAddress.Parse("192.0.2.10");
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-dns-").FullName;
    private readonly RSA _key = RSA.Create(2048);

    public void Dispose()
    {
        _key.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string PublicKey => Convert.ToBase64String(_key.ExportSubjectPublicKeyInfo());

    private string KeyFile
    {
        get
        {
            string path = Path.Combine(_dir, Selector + ".private");
            if (!File.Exists(path))
                File.WriteAllText(path, _key.ExportRSAPrivateKeyPem());
            return path;
        }
    }

    /// <summary>The good zone with some records replaced (a null value drops the record).</summary>
    private Dictionary<string, string?> Zone(params (string Part, string? Option)[] changes)
    {
        var zone = new Dictionary<string, string?>
        {
            ["spf"] = Dnsmasq.TxtRecord(Domain, "v=spf1 mx ip4:198.51.100.0/24 -all"),
            ["dkim"] = Dnsmasq.TxtRecord($"{Selector}._domainkey.{Domain}", $"v=DKIM1; h=sha256; k=rsa; p={PublicKey}"),
            ["dmarc"] = Dnsmasq.TxtRecord("_dmarc." + Domain, "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"),
            ["ptr"] = Dnsmasq.PtrRecord(HostAddress, HostName),
            ["host"] = $"--host-record={HostName},{HostAddress}",
            ["mx"] = $"--mx-host={Domain},{HostName},10",
            // a name that always exists, for the readiness probe
            ["probe"] = Dnsmasq.TxtRecord("probe." + Domain, "ready"),
        };
        foreach (var (part, option) in changes)
            zone[part] = option;
        return zone;
    }

    private async Task<Dnsmasq> StartDnsmasqAsync(Dictionary<string, string?> zone)
    {
        var dnsmasq = await Dnsmasq.StartAsync(zone.Values.OfType<string>(), [Domain, "2.0.192.in-addr.arpa"], "probe." + Domain);
        output.WriteLine($"dnsmasq on {dnsmasq.Endpoint}");
        return dnsmasq;
    }

    private DnsCheckOptions Options(string resolver) => new()
    {
        Resolver = resolver, Domain = Domain, HostAddresses = HostAddress.ToString(), HostName = HostName,
        DkimSelector = Selector, DkimKeyFile = KeyFile, Timeout = TimeSpan.FromSeconds(1),
    };

    private async Task<HealthCheckResult> RunAsync(params (string Part, string? Option)[] changes)
    {
        await using var dnsmasq = await StartDnsmasqAsync(Zone(changes));
        var options = Options(dnsmasq.Endpoint);
        var result = await new DnsCheck(options, new DnsClientLookup(options)).RunAsync(CancellationToken.None);
        output.WriteLine($"{result.Status}: {result.Reason}");
        return result;
    }

    [ServerFact("dnsmasq")]
    public async Task Dns_GoodRecords_Healthy()
    {
        var result = await RunAsync();

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Contains("SPF pass: 'mx' in the SPF record of example.test authorises 192.0.2.10", result.Reason, StringComparison.Ordinal);
        Assert.Contains("DKIM: mail-2026._domainkey.example.test carries the signing key", result.Reason, StringComparison.Ordinal);
        Assert.Contains("DMARC: _dmarc.example.test exists with p=reject", result.Reason, StringComparison.Ordinal);
        Assert.Contains("PTR: 192.0.2.10 points to mail.example.test and back", result.Reason, StringComparison.Ordinal);
    }

    [ServerFact("dnsmasq")]
    public async Task Dns_NoSpfRecord_Unhealthy()
    {
        var result = await RunAsync(("spf", null));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("SPF none: example.test has no SPF record", result.Reason, StringComparison.Ordinal);
    }

    [ServerFact("dnsmasq")]
    public async Task Dns_SpfDashAllWithoutOurAddress_Unhealthy()
    {
        var result = await RunAsync(("spf", Dnsmasq.TxtRecord(Domain, "v=spf1 ip4:198.51.100.0/24 -all")));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("SPF fail: '-all' in the SPF record of example.test rejects (fail) 192.0.2.10", result.Reason, StringComparison.Ordinal);
    }

    [ServerFact("dnsmasq")]
    public async Task Dns_DkimRecordOfAnotherKey_Unhealthy()
    {
        using var other = RSA.Create(2048);
        var record = Dnsmasq.TxtRecord($"{Selector}._domainkey.{Domain}", $"v=DKIM1; k=rsa; p={Convert.ToBase64String(other.ExportSubjectPublicKeyInfo())}");

        var result = await RunAsync(("dkim", record));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("DKIM: mail-2026._domainkey.example.test does not carry the signing key", result.Reason, StringComparison.Ordinal);
        Assert.Contains("is not the signing key", result.Reason, StringComparison.Ordinal);
    }

    [ServerFact("dnsmasq")]
    public async Task Dns_DkimRevoked_Unhealthy()
    {
        var result = await RunAsync(("dkim", Dnsmasq.TxtRecord($"{Selector}._domainkey.{Domain}", "v=DKIM1; k=rsa; p=")));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("the key is revoked (empty p=)", result.Reason, StringComparison.Ordinal);
    }

    [ServerFact("dnsmasq")]
    public async Task Dns_NoDmarc_Degraded()
    {
        var result = await RunAsync(("dmarc", null));

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.StartsWith("DMARC: no record at _dmarc.example.test", result.Reason, StringComparison.Ordinal);
    }

    [ServerFact("dnsmasq")]
    public async Task Dns_PtrToAnotherName_Unhealthy()
    {
        var result = await RunAsync(("ptr", Dnsmasq.PtrRecord(HostAddress, "host-10.isp.test")));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("PTR: 192.0.2.10 points to host-10.isp.test, not to myhostname mail.example.test", result.Reason, StringComparison.Ordinal);
    }

    [ServerFact("dnsmasq")]
    public async Task Dns_ResolverNotAnswering_DegradedSayingSo()
    {
        // A UDP port held by a socket that never reads: queries go unanswered, as with a dead resolver.
        using var silent = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var options = Options(silent.LocalEndPoint!.ToString()!);

        var result = await new DnsCheck(options, new DnsClientLookup(options)).RunAsync(CancellationToken.None);

        output.WriteLine(result.Reason);
        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains($"{options.Resolver} did not answer", result.Reason, StringComparison.Ordinal);
    }

    [ServerFact("dnsmasq")]
    public async Task Agent_DnsCheckAgainstDnsmasq_HealthReportsEachPart()
    {
        await using var dnsmasq = await StartDnsmasqAsync(Zone(("dmarc", null)));
        string log = Path.Combine(_dir, "mail.log");
        await File.WriteAllTextAsync(log, "");
        await using var agent = await AgentProcess.StartAsync(
            $"LogTailing:Path={log}",
            $"LogTailing:StateDirectory={_dir}",
            "Health:Checks=dns",
            "Health:Interval=00:00:00.500",
            "Health:SlowInterval=00:00:01",
            $"Health:Dns:Resolver={dnsmasq.Endpoint}",
            $"Health:Dns:Domain={Domain}",
            $"Health:Dns:HostAddresses={HostAddress}",
            $"Health:Dns:HostName={HostName}",
            $"Health:Dns:DkimSelector={Selector}",
            $"Health:Dns:DkimKeyFile={KeyFile}");

        var (status, body) = await Eventually.UntilAsync(
            _ => agent.GetAsync("/health"),
            r => Check(r.Body).Status != null,
            TimeSpan.FromSeconds(30),
            r => $"{r.Status} {r.Body}");
        output.WriteLine(body);

        var (checkStatus, reason) = Check(body);
        Assert.Equal(429, status);
        Assert.Equal("degraded", checkStatus);
        Assert.StartsWith("DMARC: no record at _dmarc.example.test", reason, StringComparison.Ordinal);
        Assert.Contains("SPF pass", reason, StringComparison.Ordinal);
        Assert.Contains("carries the signing key", reason, StringComparison.Ordinal);
        Assert.Contains("points to mail.example.test and back", reason, StringComparison.Ordinal);
        Assert.Contains("mailagent_health_check_status{check=\"dns\"} 0.5", await agent.ScrapeAsync(), StringComparison.Ordinal);
    }

    private static (string? Status, string? Reason) Check(string body)
    {
        using var doc = JsonDocument.Parse(body);
        foreach (var check in doc.RootElement.GetProperty("checks").EnumerateArray())
        {
            if (check.GetProperty("name").GetString() == "dns" && check.TryGetProperty("lastRunUtc", out var last) && last.ValueKind != JsonValueKind.Null)
                return (check.GetProperty("status").GetString(), check.GetProperty("reason").GetString());
        }

        return (null, null);
    }
}
