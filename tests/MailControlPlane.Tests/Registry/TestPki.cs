using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MailControlPlane.Tests.Registry;

/// <summary>A throwaway CA with a server and a client certificate, as PEM files in a temporary directory.</summary>
internal sealed class TestPki : IDisposable
{
    public TestPki()
    {
        Directory.CreateDirectory(Dir);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=test-ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        File.WriteAllText(CaFile, ca.ExportCertificatePem());
        Issue(ca, "server", "1.3.6.1.5.5.7.3.1", ServerCertificate, ServerKey);
        Issue(ca, "control-plane", "1.3.6.1.5.5.7.3.2", ClientCertificate, ClientKey);
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "cp-pki-" + Guid.NewGuid().ToString("N")[..8]);
    public string CaFile => Path.Combine(Dir, "ca.crt");
    public string ServerCertificate => Path.Combine(Dir, "server.crt");
    public string ServerKey => Path.Combine(Dir, "server.key");
    public string ClientCertificate => Path.Combine(Dir, "client.crt");
    public string ClientKey => Path.Combine(Dir, "client.key");

    private static void Issue(X509Certificate2 ca, string cn, string usage, string certFile, string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={cn}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(10), RandomNumberGenerator.GetBytes(8));
        File.WriteAllText(certFile, issued.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
