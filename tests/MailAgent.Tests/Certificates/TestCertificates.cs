using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MailAgent.Tests.Certificates;

/// <summary>A certificate made in the test, as the PEM a server's files would hold.</summary>
internal sealed record TestPair(string CertificatePem, string KeyPem, string CaPem, string Fingerprint)
{
    /// <summary>Key, leaf, CA: the smtpd_tls_chain_files layout.</summary>
    public string ChainFile => KeyPem + CertificatePem + CaPem;

    /// <summary>Leaf then CA: fullchain.pem.</summary>
    public string FullChain => CertificatePem + CaPem;
}

/// <summary>Makes a test CA and leaf certificates (RSA or ECDSA) with CertificateRequest.</summary>
internal sealed class TestCertificates : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _ca;

    public TestCertificates(DateTimeOffset now)
    {
        var request = new CertificateRequest("CN=MailAgent Test CA", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        _ca = request.CreateSelfSigned(now.AddYears(-1), now.AddYears(5));
    }

    public string CaPem => _ca.ExportCertificatePem() + "\n";

    /// <summary>A leaf for <paramref name="names"/> (SAN dNSNames; none: CN only), valid from..to, RSA or ECDSA.</summary>
    public TestPair Leaf(string[] names, DateTimeOffset notBefore, DateTimeOffset notAfter, bool rsa = false, string? commonName = null)
    {
        using AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = "CN=" + (commonName ?? (names.Length > 0 ? names[0] : "unnamed"));
        var request = key is RSA r
            ? new CertificateRequest(subject, r, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(subject, (ECDsa)key, HashAlgorithmName.SHA256);
        if (names.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var n in names)
                san.AddDnsName(n);
            request.CertificateExtensions.Add(san.Build());
        }

        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        using var cert = request.Create(_ca.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey), notBefore, notAfter, serial);
        string keyPem = key.ExportPkcs8PrivateKeyPem() + "\n";
        return new TestPair(cert.ExportCertificatePem() + "\n", keyPem, CaPem, Convert.ToHexStringLower(SHA256.HashData(cert.RawData)));
    }

    /// <summary>A lone self-signed certificate and its key.</summary>
    public static TestPair SelfSigned(string name, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(90));
        return new TestPair(cert.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem() + "\n", "", Convert.ToHexStringLower(SHA256.HashData(cert.RawData)));
    }

    public void Dispose()
    {
        _ca.Dispose();
        _caKey.Dispose();
    }
}
