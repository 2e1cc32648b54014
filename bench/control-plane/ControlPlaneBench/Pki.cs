using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ControlPlaneBench;

/// <summary>The bench's private CA, the simulated agents' server certificate and the control plane's client certificate (as mailagent pki init makes them).</summary>
internal static class Pki
{
    public static (X509Certificate2 Ca, X509Certificate2 Server, string CaFile, string ClientCertificate, string ClientKey) Create(string directory)
    {
        Directory.CreateDirectory(directory);
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=bench CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(2));
        var server = Issue(ca, "localhost", "1.3.6.1.5.5.7.3.1", true, now);
        using var client = Issue(ca, "control-plane", "1.3.6.1.5.5.7.3.2", false, now);
        string caFile = Path.Combine(directory, "ca.crt");
        File.WriteAllText(caFile, ca.ExportCertificatePem() + "\n");
        string clientCertificate = Path.Combine(directory, "client.crt");
        string clientKey = Path.Combine(directory, "client.key");
        File.WriteAllText(clientCertificate, client.ExportCertificatePem() + "\n");
        using (var key = client.GetECDsaPrivateKey()!)
            File.WriteAllText(clientKey, key.ExportPkcs8PrivateKeyPem());
        // Kestrel on Linux wants a certificate whose key it can use directly: round-trip through PKCS#12.
        var exported = X509CertificateLoader.LoadPkcs12(server.Export(X509ContentType.Pkcs12, ""), "");
        server.Dispose();
        return (ca, exported, caFile, clientCertificate, clientKey);
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string commonName, string usage, bool serverNames, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new System.Security.Cryptography.Oid(usage)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (serverNames)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var issued = request.Create(ca, now.AddMinutes(-5), now.AddDays(1), serial);
        return issued.CopyWithPrivateKey(key);
    }

    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}
