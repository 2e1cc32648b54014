using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MailAgent.Certificates;

/// <summary>What is wrong with a certificate/key pair; <see cref="None"/> when nothing is.</summary>
internal enum CertificateProblem
{
    None,
    Unreadable,
    NoCertificate,
    NoKey,
    KeyMismatch,
    NotYetValid,
    Expired,
    NameMismatch,
    NoChain,
}

/// <summary>The verdict on a pair: the leaf (when one parsed), the first problem found and every reason.</summary>
internal sealed record CertificateValidation(
    CertificateProblem Problem, IReadOnlyList<string> Reasons, string? Fingerprint, DateTimeOffset? NotBefore, DateTimeOffset? NotAfter,
    IReadOnlyList<string> Names, string ChainDescription)
{
    public bool IsValid => Problem == CertificateProblem.None;

    public string Reason => Reasons.Count == 0 ? "valid" : string.Join("; ", Reasons);
}

/// <summary>
/// Pure checks of a PEM certificate chain and its private key: parses (RSA or ECDSA), the key
/// matches the leaf (same SubjectPublicKeyInfo), the leaf is within its validity at <c>now</c>,
/// its names cover the host name (SAN dNSName with one-label wildcards; the subject CN only when
/// there is no dNSName), and a chain is present.
/// </summary>
/// <remarks>
/// "Chain present" means: the leaf chains, using only the other certificates in the files (no
/// downloads, no revocation check), either to a root the system trusts or to a self-signed root
/// bundled in the files; a lone self-signed leaf has no chain. Time problems are reported by the
/// validity check, not again by the chain check.
/// </remarks>
internal static class CertificateValidator
{
    private const string CommonNameOid = "2.5.4.3";

    /// <summary>Checks the PEM text of the certificate file(s) and the key file(s); they may be the same text (smtpd_tls_chain_files).</summary>
    public static CertificateValidation Validate(string certificatePem, string keyPem, string hostname, DateTimeOffset now)
    {
        var certificates = new List<X509Certificate2>();
        try
        {
            var reasons = new List<string>();
            var problem = CertificateProblem.None;
            void Fail(CertificateProblem p, string reason)
            {
                if (problem == CertificateProblem.None)
                    problem = p;
                reasons.Add(reason);
            }

            string? readError = ReadCertificates(certificatePem, certificates);
            if (readError != null)
                return Invalid(CertificateProblem.Unreadable, readError);
            if (certificates.Count == 0)
                return Invalid(CertificateProblem.NoCertificate, "no CERTIFICATE block in the certificate file");
            var leaf = certificates[0];
            string fingerprint = Fingerprint(leaf);
            var names = DnsNames(leaf, out bool fromSan);
            var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime());
            var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime());
            CertificateValidation Result(string chain) => new(problem, reasons, fingerprint, notBefore, notAfter, names, chain);

            byte[]? keySpki = ReadKey(keyPem, out string? keyError);
            if (keySpki == null)
                Fail(keyError!.StartsWith("no ", StringComparison.Ordinal) ? CertificateProblem.NoKey : CertificateProblem.Unreadable, keyError);
            else if (!keySpki.AsSpan().SequenceEqual(leaf.PublicKey.ExportSubjectPublicKeyInfo()))
                Fail(CertificateProblem.KeyMismatch, $"the private key does not match the certificate {Describe(leaf)}");

            if (now < notBefore)
                Fail(CertificateProblem.NotYetValid, $"the certificate is not valid before {notBefore:u}");
            else if (now >= notAfter)
                Fail(CertificateProblem.Expired, $"the certificate expired at {notAfter:u}");

            if (!Covers(names, hostname))
                Fail(CertificateProblem.NameMismatch, $"the certificate's names ({(names.Count == 0 ? "none" : string.Join(", ", names))}, from {(fromSan ? "subjectAltName" : "the subject CN")}) do not cover {hostname}");

            string chain = CheckChain(leaf, certificates, now, FileSource, out string? chainProblem);
            if (chainProblem != null)
                Fail(CertificateProblem.NoChain, chainProblem);
            return Result(chain);
        }
        finally
        {
            foreach (var c in certificates)
                c.Dispose();
        }

        static CertificateValidation Invalid(CertificateProblem problem, string reason) => new(problem, [reason], null, null, null, [], "");
    }

    /// <summary>SHA-256 of the DER certificate, lower-case hex (what the API and the probe report).</summary>
    public static string Fingerprint(X509Certificate2 certificate) =>
        Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));

    /// <summary>The first CERTIFICATE block of a PEM text, or null.</summary>
    public static X509Certificate2? FirstCertificate(string pem)
    {
        var list = new List<X509Certificate2>();
        if (ReadCertificates(pem, list) != null || list.Count == 0)
            return null;
        foreach (var extra in list.Skip(1))
            extra.Dispose();
        return list[0];
    }

    /// <summary>True when one of <paramref name="names"/> is <paramref name="hostname"/> or a wildcard covering exactly one label of it.</summary>
    public static bool Covers(IReadOnlyList<string> names, string hostname)
    {
        string host = hostname.TrimEnd('.');
        foreach (var raw in names)
        {
            string name = raw.TrimEnd('.');
            if (string.Equals(name, host, StringComparison.OrdinalIgnoreCase))
                return true;
            if (name.StartsWith("*.", StringComparison.Ordinal))
            {
                int dot = host.IndexOf('.', StringComparison.Ordinal);
                // "*.example.test" covers "mail.example.test", not "example.test" nor "a.mail.example.test".
                if (dot > 0 && string.Equals(name[1..], host[dot..], StringComparison.OrdinalIgnoreCase) && host[dot..].Count(c => c == '.') >= 2)
                    return true;
            }
        }

        return false;
    }

    /// <summary>The SAN dNSNames, or the subject CNs when the certificate has no dNSName.</summary>
    public static IReadOnlyList<string> DnsNames(X509Certificate2 certificate, out bool fromSan)
    {
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
                names.AddRange(san.EnumerateDnsNames());
        }

        fromSan = names.Count > 0;
        if (fromSan)
            return names;
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.GetSingleElementType().Value == CommonNameOid && rdn.GetSingleElementValue() is { Length: > 0 } cn)
                names.Add(cn);
        }

        return names;
    }

    private static string? ReadCertificates(string pem, List<X509Certificate2> certificates)
    {
        var text = pem.AsSpan();
        while (PemEncoding.TryFind(text, out var fields))
        {
            var label = text[fields.Label];
            if (label.SequenceEqual("CERTIFICATE"))
            {
                try
                {
                    certificates.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text[fields.Base64Data].ToString())));
                }
                catch (Exception e) when (e is CryptographicException or FormatException)
                {
                    return $"certificate {certificates.Count + 1} in the file does not parse ({e.Message})";
                }
            }

            text = text[fields.Location.End.GetOffset(text.Length)..];
        }

        return null;
    }

    // The SubjectPublicKeyInfo of the first private key in the text; key and certificate match when theirs are equal.
    private static byte[]? ReadKey(string pem, out string? error)
    {
        error = null;
        var text = pem.AsSpan();
        while (PemEncoding.TryFind(text, out var fields))
        {
            string label = text[fields.Label].ToString();
            var block = text[fields.Location];
            switch (label)
            {
                case "ENCRYPTED PRIVATE KEY":
                    error = "the private key is encrypted; Postfix needs it unencrypted";
                    return null;
                case "PRIVATE KEY" or "RSA PRIVATE KEY" or "EC PRIVATE KEY":
                    try
                    {
                        return ImportPublicKey(label, block);
                    }
                    catch (Exception e) when (e is CryptographicException or ArgumentException or AsnContentException)
                    {
                        error = $"the private key does not parse ({e.Message})";
                        return null;
                    }
            }

            text = text[fields.Location.End.GetOffset(text.Length)..];
        }

        error = "no PRIVATE KEY block in the key file";
        return null;
    }

    private static byte[] ImportPublicKey(string label, ReadOnlySpan<char> block)
    {
        if (label == "PRIVATE KEY")
        {
            // PKCS#8 says which algorithm it holds; try RSA, then ECDSA.
            try
            {
                using var rsa = RSA.Create();
                rsa.ImportFromPem(block);
                return rsa.ExportSubjectPublicKeyInfo();
            }
            catch (CryptographicException)
            {
                using var ec = ECDsa.Create();
                ec.ImportFromPem(block);
                return ec.ExportSubjectPublicKeyInfo();
            }
        }

        if (label == "RSA PRIVATE KEY")
        {
            using var rsa = RSA.Create();
            rsa.ImportFromPem(block);
            return rsa.ExportSubjectPublicKeyInfo();
        }

        using var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(block);
        return ecdsa.ExportSubjectPublicKeyInfo();
    }

    /// <summary>Where <see cref="CheckChain"/>'s certificates came from, in its words: the files on disk.</summary>
    public static readonly ChainSource FileSource = new("in the file", "bundled in the file", "alone in the file", "the file");

    /// <summary>Where <see cref="CheckChain"/>'s certificates came from, in its words: what a listener sent in the TLS handshake.</summary>
    public static readonly ChainSource ServedSource = new("sent by the listener", "sent by the listener", "sent alone", "the file smtpd_tls_chain_files names");

    /// <summary>The words that say where a chain's certificates came from.</summary>
    public sealed record ChainSource(string Among, string Bundled, string Alone, string Holder);

    /// <summary>
    /// The chain <paramref name="leaf"/> makes with <paramref name="certificates"/> (leaf first; no downloads, no revocation check) to a root the
    /// system trusts or a self-signed root among them; the path's names, and the problem (or null).
    /// </summary>
    public static string CheckChain(X509Certificate2 leaf, IReadOnlyList<X509Certificate2> certificates, DateTimeOffset now, ChainSource source, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(certificates);
        ArgumentNullException.ThrowIfNull(source);
        problem = null;
        if (certificates.Count == 1 && leaf.SubjectName.RawData.AsSpan().SequenceEqual(leaf.IssuerName.RawData))
        {
            problem = $"the certificate is self-signed and {source.Alone}: no chain (put the leaf, then its intermediates, in {source.Holder})";
            return "self-signed";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid | X509VerificationFlags.IgnoreCtlNotTimeValid;
        chain.ChainPolicy.ExtraStore.AddRange(certificates.Skip(1).ToArray());
        bool built = chain.Build(leaf);
        var elements = chain.ChainElements;
        var root = elements.Count > 0 ? elements[^1].Certificate : null;
        string path = string.Join(" <- ", elements.Select(e => e.Certificate.GetNameInfo(X509NameType.SimpleName, false)));
        if (built)
            return $"{path} (trusted by the system)";

        var flags = chain.ChainStatus.Select(s => s.Status).Aggregate(X509ChainStatusFlags.NoError, (a, b) => a | b)
            & ~(X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.CtlNotTimeValid);
        bool bundledRoot = root != null && elements.Count > 1 && root.SubjectName.RawData.AsSpan().SequenceEqual(root.IssuerName.RawData)
            && certificates.Skip(1).Any(c => c.RawData.AsSpan().SequenceEqual(root.RawData));
        if ((flags & ~X509ChainStatusFlags.UntrustedRoot) == X509ChainStatusFlags.NoError && (bundledRoot || flags == X509ChainStatusFlags.NoError))
            return $"{path} (root {source.Bundled})";
        if ((flags & X509ChainStatusFlags.PartialChain) != 0 || elements.Count < 2)
            problem = $"chain incomplete: the issuer '{(root ?? leaf).Issuer}' of '{(root ?? leaf).Subject}' is neither {source.Among} nor trusted by the system (use the full chain, e.g. Let's Encrypt's fullchain.pem)";
        else
            problem = $"chain does not verify ({string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct())})";
        return path;
    }

    private static string Describe(X509Certificate2 certificate) => $"'{certificate.Subject}'";
}
