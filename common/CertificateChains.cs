using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace MailAgent.Common;

/// <summary>PEM loading and chain checks against a private CA (never the system store).</summary>
internal static class CertificateChains
{
    public static X509Certificate2Collection LoadCa(string file)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(file);
        return collection;
    }

    /// <summary>True when <paramref name="certificate"/> chains to one of <paramref name="trusted"/> at <paramref name="now"/> for <paramref name="purposeOid"/>.</summary>
    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection trusted, DateTimeOffset now, string purposeOid, out string problem)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(purposeOid));
        if (chain.Build(certificate))
        {
            problem = "";
            return true;
        }

        problem = string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()));
        return false;
    }

    /// <summary>
    /// A TLS client's check of the server's certificate against a private CA: the name must match, and the
    /// certificate must chain to one of <paramref name="trusted"/> for server authentication. With
    /// <paramref name="alsoSystemTrust"/>, a certificate the system already trusts is accepted as well.
    /// </summary>
    public static RemoteCertificateValidationCallback ServerTrustedBy(X509Certificate2Collection trusted, TimeProvider time, bool alsoSystemTrust = false) =>
        (_, certificate, _, errors) =>
        {
            if (alsoSystemTrust && errors == SslPolicyErrors.None)
                return true;
            // A name mismatch or no certificate is never accepted, whatever the chain.
            if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                return false;
            using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return ChainsTo(leaf, trusted, time.GetUtcNow(), ServerAuth, out _);
        };

    public const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuth = "1.3.6.1.5.5.7.3.2";
}
