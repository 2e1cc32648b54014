using System.Net;
using System.Security.Cryptography;
using MailAgent.Health;
using MailAgent.Health.Dns;

namespace MailAgent.Tests.Health.Dns;

public sealed class DnsCheckTests : IDisposable
{
    private const string Domain = "example.test";
    private const string Selector = "mail-2026";
    private const string HostName = "mail.example.test";
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-dnscheck-").FullName;
    private readonly RSA _key = RSA.Create(2048);
    private readonly DnsCheckOptions _options;

    public DnsCheckTests()
    {
        string keyFile = Path.Combine(_dir, Selector + ".private");
        File.WriteAllText(keyFile, _key.ExportRSAPrivateKeyPem());
        _options = new DnsCheckOptions
        {
            Domain = Domain, HostAddresses = "192.0.2.10", HostName = HostName, DkimSelector = Selector, DkimKeyFile = keyFile,
        };
    }

    public void Dispose()
    {
        _key.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string PublicKey => Convert.ToBase64String(_key.ExportSubjectPublicKeyInfo());

    private FakeDnsLookup GoodZone()
    {
        var dns = new FakeDnsLookup()
            .AddTxt(Domain, "v=spf1 mx ip4:192.0.2.10 -all")
            .AddTxt($"{Selector}._domainkey.{Domain}", $"v=DKIM1; h=sha256; k=rsa; p={PublicKey}")
            .AddTxt("_dmarc." + Domain, "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.test")
            .AddAddress(HostName, "192.0.2.10");
        dns.Ptr[IPAddress.Parse("192.0.2.10")] = [HostName];
        return dns;
    }

    private Task<HealthCheckResult> Run(FakeDnsLookup dns) => new DnsCheck(_options, dns).RunAsync(CancellationToken.None);

    [Fact]
    public async Task RunAsync_GoodRecords_HealthyNamingEachPart()
    {
        var result = await Run(GoodZone());

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Contains("SPF pass", result.Reason, StringComparison.Ordinal);
        Assert.Contains("carries the signing key", result.Reason, StringComparison.Ordinal);
        Assert.Contains("p=quarantine", result.Reason, StringComparison.Ordinal);
        Assert.Contains("points to mail.example.test and back", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_DkimRecordSplitWithSpaces_StillMatches()
    {
        var dns = GoodZone();
        string p = PublicKey;
        dns.Txt[$"{Selector}._domainkey.{Domain}"] = [$"v=DKIM1; k=rsa; p={p[..100]} {p[100..]}"];

        Assert.Equal(HealthStatus.Healthy, (await Run(dns)).Status);
    }

    [Fact]
    public async Task RunAsync_RecordPublishesPkcs1Key_StillMatches()
    {
        var dns = GoodZone();
        dns.Txt[$"{Selector}._domainkey.{Domain}"] = [$"v=DKIM1; p={Convert.ToBase64String(_key.ExportRSAPublicKey())}"];

        Assert.Equal(HealthStatus.Healthy, (await Run(dns)).Status);
    }

    [Fact]
    public async Task RunAsync_DkimRecordOfAnotherKey_UnhealthyMismatch()
    {
        using var other = RSA.Create(2048);
        var dns = GoodZone();
        dns.Txt[$"{Selector}._domainkey.{Domain}"] = [$"v=DKIM1; k=rsa; p={Convert.ToBase64String(other.ExportSubjectPublicKeyInfo())}"];

        var result = await Run(dns);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("DKIM:", result.Reason, StringComparison.Ordinal);
        Assert.Contains("is not the signing key", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_DkimRevoked_Unhealthy()
    {
        var dns = GoodZone();
        dns.Txt[$"{Selector}._domainkey.{Domain}"] = ["v=DKIM1; k=rsa; p="];

        var result = await Run(dns);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("revoked", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_DkimMissing_Unhealthy()
    {
        var dns = GoodZone();
        dns.Txt.Remove($"{Selector}._domainkey.{Domain}");

        var result = await Run(dns);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("no TXT record at mail-2026._domainkey.example.test", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_SpfFail_Unhealthy()
    {
        var dns = GoodZone();
        dns.Txt[Domain] = ["v=spf1 ip4:198.51.100.0/24 -all"];

        var result = await Run(dns);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("SPF fail", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_SpfSoftFail_Degraded()
    {
        var dns = GoodZone();
        dns.Txt[Domain] = ["v=spf1 ip4:198.51.100.0/24 ~all"];

        var result = await Run(dns);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.StartsWith("SPF softfail", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_NoDmarc_Degraded()
    {
        var dns = GoodZone();
        dns.Txt.Remove("_dmarc." + Domain);

        var result = await Run(dns);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.StartsWith("DMARC: no record at _dmarc.example.test", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_PtrToAnotherName_Unhealthy()
    {
        var dns = GoodZone();
        dns.Ptr[IPAddress.Parse("192.0.2.10")] = ["host-10.isp.test"];

        var result = await Run(dns);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("PTR: 192.0.2.10 points to host-10.isp.test, not to myhostname mail.example.test", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ForwardDoesNotPointBack_Degraded()
    {
        var dns = GoodZone();
        dns.Addresses[HostName] = [IPAddress.Parse("192.0.2.99")];

        var result = await Run(dns);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("resolves to 192.0.2.99, not back to 192.0.2.10", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ResolverUnreachable_DegradedSayingSo()
    {
        var dns = GoodZone();
        dns.Unreachable = true;

        var result = await Run(dns);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("did not answer", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_KeyFileIsTheTxtRecord_Matches()
    {
        string p = PublicKey;
        string txt = Path.Combine(_dir, Selector + ".txt");
        File.WriteAllText(txt, $"{Selector}._domainkey\tIN\tTXT\t( \"v=DKIM1; h=sha256; k=rsa; \"\n\t  \"p={p[..200]}\"\n\t  \"{p[200..]}\" )  ; ----- DKIM key {Selector} for {Domain}\n");
        _options.DkimKeyFile = txt;

        Assert.Equal(HealthStatus.Healthy, (await Run(GoodZone())).Status);
    }
}
