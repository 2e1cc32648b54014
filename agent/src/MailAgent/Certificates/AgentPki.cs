using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MailAgent.Certificates;

/// <summary>The certificates of one <c>mailagent pki init</c>: a CA, the agent's server pair and a control-plane client pair.</summary>
internal sealed record PkiFiles(string CaCertificate, string CaKey, string AgentCertificate, string AgentKey, string ClientCertificate, string ClientKey);

/// <summary>
/// A small private PKI for the gRPC listener: ECDSA P-256 keys, a CA that signs an agent (server)
/// certificate and control-plane (client) certificates. Pure System.Security.Cryptography.
/// </summary>
internal static class AgentPki
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    /// <summary>Creates the CA, agent and client pairs as PEM files in <paramref name="directory"/>; keys are 0600.</summary>
    public static PkiFiles Init(string directory, string agentName, string clientName, int days, IEnumerable<string> extraSans, TimeProvider time)
    {
        var files = new PkiFiles(
            Path.Combine(directory, "ca.crt"), Path.Combine(directory, "ca.key"),
            Path.Combine(directory, "agent.crt"), Path.Combine(directory, "agent.key"),
            Path.Combine(directory, "client.crt"), Path.Combine(directory, "client.key"));
        foreach (var existing in new[] { files.CaKey, files.AgentKey, files.ClientKey }.Where(File.Exists))
            throw new IOException($"{existing} already exists: pki init never overwrites keys; choose another --dir or remove the old files");

        Directory.CreateDirectory(directory);
        var now = time.GetUtcNow();
        var notBefore = now.AddMinutes(-5);
        // The CA outlives what it signs so that renewing a leaf does not mean re-trusting a new CA.
        using var ca = CreateCa($"{agentName} CA", notBefore, now.AddDays(days * 2L));
        using var agent = IssueServer(ca, agentName, ServerNames(agentName, extraSans), notBefore, now.AddDays(days));
        using var client = IssueClient(ca, clientName, notBefore, now.AddDays(days));
        WritePem(ca, files.CaCertificate, files.CaKey);
        WritePem(agent, files.AgentCertificate, files.AgentKey);
        WritePem(client, files.ClientCertificate, files.ClientKey);
        return files;
    }

    /// <summary>
    /// One more agent's server certificate from an existing CA (ca.crt and ca.key in <paramref name="caDirectory"/>),
    /// as NAME.crt and NAME.key beside them; keys 0600, never overwritten.
    /// </summary>
    public static (string Certificate, string Key) Issue(string caDirectory, string agentName, int days, IEnumerable<string> extraSans, TimeProvider time)
    {
        string caCertificate = Path.Combine(caDirectory, "ca.crt");
        string caKey = Path.Combine(caDirectory, "ca.key");
        foreach (var needed in new[] { caCertificate, caKey }.Where(f => !File.Exists(f)))
            throw new IOException($"{needed}: no such file; --ca-dir must hold the ca.crt and ca.key that 'mailagent pki init' made");
        if (agentName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || agentName is "ca" or "agent" or "client")
            throw new IOException($"--agent-name '{agentName}' cannot name the files: use a host name such as postfix-frankfurt");
        string certificate = Path.Combine(caDirectory, agentName + ".crt");
        string key = Path.Combine(caDirectory, agentName + ".key");
        foreach (var existing in new[] { certificate, key }.Where(File.Exists))
            throw new IOException($"{existing} already exists: pki issue never overwrites; remove it first to issue again");

        using var ca = X509Certificate2.CreateFromPemFile(caCertificate, caKey);
        var now = time.GetUtcNow();
        if (ca.NotAfter <= now.UtcDateTime)
            throw new IOException($"{caCertificate} expired on {ca.NotAfter:u}: make a new CA with 'mailagent pki init'");
        using var agent = IssueServer(ca, agentName, ServerNames(agentName, extraSans), now.AddMinutes(-5), now.AddDays(days));
        WritePem(agent, certificate, key);
        return (certificate, key);
    }

    /// <summary>The server certificate's names: loopback, the host name, the agent name and any extras.</summary>
    public static IReadOnlyList<string> ServerNames(string agentName, IEnumerable<string> extraSans)
    {
        var names = new List<string> { "localhost", "127.0.0.1", "::1", Dns.GetHostName(), agentName };
        names.AddRange(extraSans);
        return names.Where(n => !string.IsNullOrWhiteSpace(n)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
    }

    public static X509Certificate2 CreateCa(string commonName, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(Subject(commonName), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    public static X509Certificate2 IssueServer(X509Certificate2 ca, string commonName, IEnumerable<string> names, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            if (IPAddress.TryParse(name, out var ip))
                san.AddIpAddress(ip);
            else
                san.AddDnsName(name);
        }

        return Issue(ca, commonName, ServerAuth, san.Build(), notBefore, notAfter);
    }

    public static X509Certificate2 IssueClient(X509Certificate2 ca, string commonName, DateTimeOffset notBefore, DateTimeOffset notAfter) =>
        Issue(ca, commonName, ClientAuth, null, notBefore, notAfter);

    public static void WritePem(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("certificate has no ECDSA private key");
        WriteFile(keyPath, key.ExportPkcs8PrivateKeyPem(), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        WriteFile(certificatePath, certificate.ExportCertificatePem() + "\n",
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string commonName, Oid usage, X509Extension? san, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(Subject(commonName), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (san != null)
            request.CertificateExtensions.Add(san);

        // A leaf may not outlive its issuer.
        if (notAfter > ca.NotAfter)
            notAfter = ca.NotAfter;
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var issued = request.Create(ca, notBefore, notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    private static X500DistinguishedName Subject(string commonName)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddCommonName(commonName);
        builder.AddOrganizationName("MailAgent");
        return builder.Build();
    }

    private static void WriteFile(string path, string text, UnixFileMode mode)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = mode;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }
}
