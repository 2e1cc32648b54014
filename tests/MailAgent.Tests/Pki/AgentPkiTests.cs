using System.Security.Cryptography.X509Certificates;
using MailAgent.Certificates;
using MailAgent.Cli;

namespace MailAgent.Tests.Pki;

public sealed class AgentPkiTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mailagent-pki-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Issue_ExistingCa_OneMoreServerCertificateChainingToItNeverOverwritten()
    {
        var files = AgentPki.Init(_dir, "agent-test", "control-plane", 30, [], TimeProvider.System);

        var (certificatePath, keyPath) = AgentPki.Issue(_dir, "postfix-frankfurt", 30, ["mx3.example.test"], TimeProvider.System);

        using var ca = X509Certificate2.CreateFromPemFile(files.CaCertificate, files.CaKey);
        using var issued = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        Assert.Equal(Path.Combine(_dir, "postfix-frankfurt.crt"), certificatePath);
        Assert.Equal("postfix-frankfurt", issued.GetNameInfo(X509NameType.SimpleName, false));
        Assert.True(Chains(issued, ca));
        var san = issued.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains("postfix-frankfurt", san.EnumerateDnsNames());
        Assert.Contains("mx3.example.test", san.EnumerateDnsNames());
        Assert.Contains(System.Net.IPAddress.Loopback, san.EnumerateIPAddresses());
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
        Assert.Throws<IOException>(() => AgentPki.Issue(_dir, "postfix-frankfurt", 30, [], TimeProvider.System));
        Assert.Throws<IOException>(() => AgentPki.Issue(Path.Combine(_dir, "nowhere"), "postfix-paris", 30, [], TimeProvider.System));
    }

    [Fact]
    public void Init_Defaults_WritesChainingCertificatesAndPrivateKeys()
    {
        var files = AgentPki.Init(_dir, "agent-test", "control-plane", 30, ["mail.example.test"], TimeProvider.System);

        using var ca = X509Certificate2.CreateFromPemFile(files.CaCertificate, files.CaKey);
        using var agent = X509Certificate2.CreateFromPemFile(files.AgentCertificate, files.AgentKey);
        using var client = X509Certificate2.CreateFromPemFile(files.ClientCertificate, files.ClientKey);
        Assert.True(ca.HasPrivateKey && agent.HasPrivateKey && client.HasPrivateKey);
        Assert.Equal("control-plane", client.GetNameInfo(X509NameType.SimpleName, false));
        Assert.True(Chains(agent, ca));
        Assert.True(Chains(client, ca));
        var san = agent.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains("localhost", san.EnumerateDnsNames());
        Assert.Contains("mail.example.test", san.EnumerateDnsNames());
        Assert.Contains(System.Net.IPAddress.Loopback, san.EnumerateIPAddresses());
        Assert.Contains(System.Net.IPAddress.IPv6Loopback, san.EnumerateIPAddresses());
        if (!OperatingSystem.IsWindows())
        {
            foreach (var key in new[] { files.CaKey, files.AgentKey, files.ClientKey })
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        }
    }

    [Fact]
    public void Init_KeysExist_RefusesToOverwrite()
    {
        AgentPki.Init(_dir, "agent-test", "control-plane", 30, [], TimeProvider.System);

        Assert.Throws<IOException>(() => AgentPki.Init(_dir, "agent-test", "control-plane", 30, [], TimeProvider.System));
    }

    [Fact]
    public async Task PkiInit_Command_WritesFilesAndExitsZero()
    {
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        var context = new CliContext(Stream.Null, stdout, stderr, TimeProvider.System);

        int code = await CommandLine.RunAsync(["pki", "init", "--dir", _dir, "--agent-name", "a1", "--client-name", "cp", "--days", "10"], context);

        Assert.Equal(0, code);
        Assert.True(File.Exists(Path.Combine(_dir, "client.crt")));
        using var client = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_dir, "client.crt")));
        Assert.Equal("cp", client.GetNameInfo(X509NameType.SimpleName, false));
    }

    [Fact]
    public async Task PkiInit_BadDays_IsAUsageError()
    {
        using var stderr = new MemoryStream();
        var context = new CliContext(Stream.Null, Stream.Null, stderr, TimeProvider.System);

        int code = await CommandLine.RunAsync(["pki", "init", "--dir", _dir, "--days", "0"], context);

        Assert.Equal(2, code);
        Assert.False(Directory.Exists(_dir));
    }

    private static bool Chains(X509Certificate2 leaf, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }
}
