using System.Net;
using System.Security.Cryptography;
using MailAgent.Doctor;
using MailAgent.Health;
using MailAgent.Health.Dns;
using MailAgent.Tests.Integration.Dns;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Doctor;

/// <summary>
/// The doctor's DNS, reputation and DNS-published transport items against dnsmasq on loopback: a
/// good zone where every item passes, and a broken one (wrong MX and A, SPF -all, another DKIM key,
/// no DMARC, a foreign PTR, no MTA-STS/TLS-RPT) with blocklist zones answering 127.0.0.2 (listed)
/// and 127.255.255.254 (refused).
/// </summary>
public sealed class DoctorDnsIntegrationTests(ITestOutputHelper output) : IDisposable
{
    private const string Domain = "example.test";
    private const string Selector = "mail-2026";
    private const string HostName = "mail.example.test";
    private const string Zen = "zen.test";
    private const string Dbl = "dbl.test";
    private const string Extra = "bl.test";
    private static readonly IPAddress HostAddress = IPAddress.Parse("192.0.2.10");
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-doctor-dns-").FullName;
    private readonly RSA _key = RSA.Create(2048);

    public void Dispose()
    {
        _key.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static string[] LocalDomains => [Domain, "2.0.192.in-addr.arpa", Zen, Dbl, Extra];

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

    private List<string> GoodZone() =>
    [
        Dnsmasq.TxtRecord(Domain, "v=spf1 mx -all"),
        Dnsmasq.TxtRecord($"{Selector}._domainkey.{Domain}", $"v=DKIM1; k=rsa; p={Convert.ToBase64String(_key.ExportSubjectPublicKeyInfo())}"),
        Dnsmasq.TxtRecord("_dmarc." + Domain, "v=DMARC1; p=reject"),
        Dnsmasq.TxtRecord("_mta-sts." + Domain, "v=STSv1; id=20261206"),
        Dnsmasq.TxtRecord("_smtp._tls." + Domain, "v=TLSRPTv1; rua=mailto:tls@example.test"),
        Dnsmasq.PtrRecord(HostAddress, HostName),
        $"--host-record={HostName},{HostAddress}",
        $"--mx-host={Domain},{HostName},10",
        Dnsmasq.TxtRecord("probe." + Domain, "ready"),
    ];

    private static List<string> BrokenZone()
    {
        using var other = RSA.Create(2048);
        return
        [
            Dnsmasq.TxtRecord(Domain, "v=spf1 ip4:198.51.100.0/24 -all"),
            Dnsmasq.TxtRecord($"{Selector}._domainkey.{Domain}", $"v=DKIM1; k=rsa; p={Convert.ToBase64String(other.ExportSubjectPublicKeyInfo())}"),
            Dnsmasq.PtrRecord(HostAddress, "host-10.provider.test"),
            $"--host-record={HostName},198.51.100.7",
            $"--mx-host={Domain},mx.elsewhere.test,10",
            $"--host-record=10.2.0.192.{Zen},127.0.0.2",
            $"--host-record={Domain}.{Dbl},127.255.255.254",
            $"--host-record=10.2.0.192.{Extra},127.0.0.2",
            Dnsmasq.TxtRecord("probe." + Domain, "ready"),
        ];
    }

    private async Task<Dictionary<string, DoctorItem>> RunAsync(List<string> zone)
    {
        await using var dnsmasq = await Dnsmasq.StartAsync(zone, LocalDomains, "probe." + Domain);
        var dnsOptions = new DnsCheckOptions
        {
            Resolver = dnsmasq.Endpoint, Domain = Domain, HostAddresses = HostAddress.ToString(), HostName = HostName,
            DkimSelector = Selector, DkimKeyFile = KeyFile, Timeout = TimeSpan.FromSeconds(1),
        };
        var options = new DoctorOptions { ZenZone = Zen, DblZone = Dbl, ExtraBlocklists = Extra };
        var lookup = new DnsClientLookup(dnsOptions);
        var report = await DoctorRunner.RunAsync([new DnsDoctor(dnsOptions, lookup), new ReputationDoctor(options, dnsOptions, lookup)], CancellationToken.None);
        output.WriteLine(DoctorRunner.Text(report));
        return report.Items.ToDictionary(i => i.Id);
    }

    [Fact]
    public async Task Doctor_GoodZone_EveryDnsAndReputationItemPasses()
    {
        var items = await RunAsync(GoodZone());

        foreach (string id in new[] { "dns.mx", "dns.address", "dns.spf", "dns.dkim", "dns.dmarc", "dns.ptr", "transport.mta-sts", "transport.tls-rpt", "reputation.zen", "reputation.dbl", "reputation.dnsbl" })
            Assert.True(items[id].Status == DoctorStatus.Pass, $"{id}: {items[id].Status}: {items[id].Why}");
        Assert.Contains("192.0.2.10 is not listed on zen.test", items["reputation.zen"].Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_BrokenZone_EachItemFailsOrWarnsWithItsCause()
    {
        var items = await RunAsync(BrokenZone());

        Assert.Equal(DoctorStatus.Fail, items["dns.mx"].Status);
        Assert.Contains("mx.elsewhere.test, not mail.example.test", items["dns.mx"].Why, StringComparison.Ordinal);
        Assert.Equal(DoctorStatus.Fail, items["dns.address"].Status);
        Assert.Contains("does not resolve to 192.0.2.10", items["dns.address"].Why, StringComparison.Ordinal);
        Assert.Equal(DoctorStatus.Fail, items["dns.spf"].Status);
        Assert.Contains("SPF fail", items["dns.spf"].Why, StringComparison.Ordinal);
        Assert.Equal(DoctorStatus.Fail, items["dns.dkim"].Status);
        Assert.Equal(DoctorStatus.Warn, items["dns.dmarc"].Status);
        Assert.Equal(DoctorStatus.Fail, items["dns.ptr"].Status);
        Assert.Contains("host-10.provider.test", items["dns.ptr"].Why, StringComparison.Ordinal);
        Assert.Equal(DoctorStatus.Warn, items["transport.mta-sts"].Status);
        Assert.Equal(DoctorStatus.Warn, items["transport.tls-rpt"].Status);
        Assert.Equal(DoctorStatus.Fail, items["reputation.zen"].Status);
        Assert.Contains("192.0.2.10 is LISTED on zen.test (127.0.0.2)", items["reputation.zen"].Why, StringComparison.Ordinal);
        Assert.Equal(DoctorStatus.Warn, items["reputation.dbl"].Status);
        Assert.Contains("refused the query", items["reputation.dbl"].Why, StringComparison.Ordinal);
        Assert.Equal(DoctorStatus.Fail, items["reputation.dnsbl"].Status);
        foreach (var item in items.Values.Where(i => i.Status != DoctorStatus.Pass))
            Assert.False(string.IsNullOrWhiteSpace(item.Fix), $"{item.Id} has no fix");
    }

    [Fact]
    public async Task BlocklistCheck_ListedOnZen_UnhealthyWithTheListingAsValue()
    {
        await using var dnsmasq = await Dnsmasq.StartAsync(BrokenZone(), LocalDomains, "probe." + Domain);
        var options = new DnsCheckOptions { Resolver = dnsmasq.Endpoint, Domain = Domain, HostAddresses = HostAddress.ToString(), Timeout = TimeSpan.FromSeconds(1) };

        var result = await new BlocklistCheck(options, new DnsClientLookup(options), Zen, Dbl).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal(1, result.Value);
        Assert.StartsWith("192.0.2.10 is LISTED on zen.test", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BlocklistCheck_NotListed_Healthy()
    {
        await using var dnsmasq = await Dnsmasq.StartAsync(GoodZone(), LocalDomains, "probe." + Domain);
        var options = new DnsCheckOptions { Resolver = dnsmasq.Endpoint, Domain = Domain, HostAddresses = HostAddress.ToString(), Timeout = TimeSpan.FromSeconds(1) };

        var result = await new BlocklistCheck(options, new DnsClientLookup(options), Zen, Dbl).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal(0, result.Value);
    }
}
