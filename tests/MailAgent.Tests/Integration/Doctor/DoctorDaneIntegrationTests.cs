using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MailAgent.Doctor;
using MailAgent.Health.Dns;
using MailAgent.Tests.Certificates;
using MailAgent.Tests.Integration.Dns;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Doctor;

/// <summary>
/// The DANE item against a private Postfix serving a test certificate after STARTTLS and dnsmasq
/// serving TLSA records for _25._tcp.mail.example.test (--dns-rr, type 52): records for the served
/// key or certificate pass (3 1 1, 3 0 1, 3 1 2, 3 1 0, 2 0 1 for the CA); a record for another
/// key fails; no record skips.
/// </summary>
public sealed class DoctorDaneIntegrationTests(ITestOutputHelper output) : IDisposable
{
    private const string Host = "mail." + PrivatePostfix.SigningDomain;
    private const string TlsaName = "_25._tcp." + Host;
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-doctor-dane-").FullName;
    private readonly TestCertificates _certs = new(DateTimeOffset.UtcNow);

    public void Dispose()
    {
        _certs.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static string Tlsa(int usage, int selector, int matching, byte[] data) =>
        $"--dns-rr={TlsaName},52,{string.Join(':', new[] { (byte)usage, (byte)selector, (byte)matching }.Concat(data).Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)))}";

    private async Task<DoctorItem> DaneAsync(Func<X509Certificate2, X509Certificate2, string[]> records)
    {
        var now = DateTimeOffset.UtcNow;
        var pair = _certs.Leaf([Host], now.AddDays(-1), now.AddDays(60));
        string chain = Path.Combine(_dir, "chain.pem");
        await File.WriteAllTextAsync(chain, pair.ChainFile);
        using var leaf = X509Certificate2.CreateFromPem(pair.CertificatePem);
        using var ca = X509Certificate2.CreateFromPem(pair.CaPem);
        await using var postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { TlsChainFile = chain, Diagnostics = output.WriteLine });
        await using var dnsmasq = await Dnsmasq.StartAsync([Dnsmasq.TxtRecord("probe." + PrivatePostfix.SigningDomain, "ready"), .. records(leaf, ca)], [PrivatePostfix.SigningDomain], "probe." + PrivatePostfix.SigningDomain);
        var dns = new DnsClientLookup(new DnsCheckOptions { Resolver = dnsmasq.Endpoint, Domain = PrivatePostfix.SigningDomain, Timeout = TimeSpan.FromSeconds(2) });
        var options = new DoctorOptions { SmtpPort = postfix.SmtpPort, Timeout = TimeSpan.FromSeconds(10) };
        var item = (await new DaneDoctor(options, Host, dns).RunAsync(CancellationToken.None)).Single();
        output.WriteLine($"{item.Status}: {item.Why}\n  {string.Join("\n  ", item.Evidence)}");
        return item;
    }

    [Fact]
    public async Task Dane_TlsaForServedKeyAndCertificate_Passes()
    {
        var item = await DaneAsync((leaf, ca) =>
        {
            byte[] spki = leaf.PublicKey.ExportSubjectPublicKeyInfo();
            return [Tlsa(3, 1, 1, SHA256.HashData(spki)), Tlsa(3, 0, 1, SHA256.HashData(leaf.RawData)), Tlsa(3, 1, 2, SHA512.HashData(spki)),
                    Tlsa(3, 1, 0, spki), Tlsa(2, 0, 1, SHA256.HashData(ca.RawData))];
        });

        Assert.Equal(DoctorStatus.Pass, item.Status);
        Assert.StartsWith("5 of 5 TLSA", item.Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dane_TlsaForAnotherKey_Fails()
    {
        using var other = RSA.Create(2048);
        var item = await DaneAsync((_, _) => [Tlsa(3, 1, 1, SHA256.HashData(other.ExportSubjectPublicKeyInfo()))]);

        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.Contains("none of the 1 TLSA", item.Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dane_NoTlsaRecord_SkipsWithWhy()
    {
        var item = await DaneAsync((_, _) => []);

        Assert.Equal(DoctorStatus.Skip, item.Status);
        Assert.Contains("has no TLSA record", item.Why, StringComparison.Ordinal);
    }
}
