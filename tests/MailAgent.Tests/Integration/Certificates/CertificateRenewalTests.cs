using System.Globalization;
using MailAgent.Certificates;
using MailAgent.Postfix;
using MailAgent.Tests.Certificates;
using MailAgent.Tests.Integration.Postfix;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Certificates;

/// <summary>
/// Renewals on a private Postfix with STARTTLS on its SMTP and submission listeners; the chain file
/// is a certbot-style live/ symlink into archive/.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CertificateRenewalTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Host = "mail." + PrivatePostfix.SigningDomain;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mailagent-certs-" + Guid.NewGuid().ToString("N"));
    private readonly TestCertificates _certs = new(DateTimeOffset.UtcNow);
    private PrivatePostfix _postfix = null!;
    private CertificateDeployer _deployer = null!;
    private TestPair _first = null!;
    private int _version = 1;

    private string Live => Path.Combine(_dir, "live", "mail", "chain.pem");

    private string Archive(int version) => Path.Combine(_dir, "archive", "mail", $"chain{version}.pem");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Live)!);
        Directory.CreateDirectory(Path.GetDirectoryName(Archive(1))!);
        var now = DateTimeOffset.UtcNow;
        _first = _certs.Leaf([Host], now.AddDays(-1), now.AddDays(60));
        WriteVersion(_first.ChainFile, 1);
        File.CreateSymbolicLink(Live, "../../archive/mail/chain1.pem");
        _postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { TlsChainFile = Live, Diagnostics = output.WriteLine });
        var options = new CertificateOptions { Endpoints = $"127.0.0.1:{_postfix.SmtpPort};127.0.0.1:{_postfix.SubmissionPort}", VerifyDelay = TimeSpan.FromMilliseconds(500), VerifyRetries = 20 };
        var control = new PostfixCommands(new PostfixOptions { ConfigDirectory = _postfix.ConfigDirectory });
        _deployer = CertificateServiceCollectionExtensions.Create(options, Path.Combine(_dir, "state"), "", control,
            new CertificateMetrics(Prometheus.Metrics.NewCustomRegistry()), TimeProvider.System, NullLogger.Instance);
    }

    public async Task DisposeAsync()
    {
        _deployer.Dispose();
        foreach (var line in _postfix.ReadLogLines().Where(l => l.Contains("warning", StringComparison.Ordinal) || l.Contains("TLS", StringComparison.Ordinal)).Take(40))
            output.WriteLine(line);
        await _postfix.DisposeAsync();
        _certs.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [ServerFact("postfix")]
    public async Task DeployAsync_ValidRenewal_DeployedAndServedWithoutRestartingMaster()
    {
        var start = await _deployer.DeployAsync("test", CancellationToken.None);
        Assert.True(start.Result == CertificateReloadResult.Unchanged, start.Reason);
        await AssertServedAsync(_first.Fingerprint);
        int master = MasterPid();

        var now = DateTimeOffset.UtcNow;
        var second = _certs.Leaf([Host], now.AddMinutes(-5), now.AddDays(90), rsa: true);
        Renew(second.ChainFile);
        var outcome = await _deployer.DeployAsync("test", CancellationToken.None);

        Assert.True(outcome.Result == CertificateReloadResult.Deployed, outcome.Reason);
        Assert.Equal(second.Fingerprint, outcome.ServedFingerprint);
        await AssertServedAsync(second.Fingerprint);
        Assert.NotEqual(_first.Fingerprint, second.Fingerprint);
        Assert.Equal(master, MasterPid());
        Assert.Equal(Archive(2), new FileInfo(Live).ResolveLinkTarget(true)!.FullName);
    }

    [ServerFact("postfix")]
    public async Task DeployAsync_ExpiredOtherNameOrMismatchedKey_RefusedAndOldStillServed()
    {
        var start = await _deployer.DeployAsync("test", CancellationToken.None);
        Assert.True(start.Result == CertificateReloadResult.Unchanged, start.Reason);
        var now = DateTimeOffset.UtcNow;
        var expired = _certs.Leaf([Host], now.AddDays(-90), now.AddMinutes(-1));
        var otherName = _certs.Leaf(["www." + PrivatePostfix.SigningDomain], now.AddDays(-1), now.AddDays(90));
        var good = _certs.Leaf([Host], now.AddDays(-1), now.AddDays(90));
        var other = _certs.Leaf([Host], now.AddDays(-1), now.AddDays(90));
        var cases = new (string Name, string Content, string Expected)[]
        {
            ("expired", expired.ChainFile, "expired"),
            ("other name", otherName.ChainFile, "do not cover " + Host),
            ("mismatched key", other.KeyPem + good.CertificatePem + good.CaPem, "does not match"),
        };
        int master = MasterPid();

        foreach (var (name, content, expected) in cases)
        {
            Renew(content);
            var outcome = await _deployer.DeployAsync("test", CancellationToken.None);

            Assert.True(outcome.Result == CertificateReloadResult.Refused, $"{name}: {outcome.Result} {outcome.Reason}");
            Assert.Contains(expected, outcome.Reason, StringComparison.Ordinal);
            // The live link points at the last good version again, so a new smtpd never loads the bad pair.
            Assert.Equal(Archive(1), new FileInfo(Live).ResolveLinkTarget(true)!.FullName);
            await AssertServedAsync(_first.Fingerprint);
        }

        Assert.Equal(master, MasterPid());
    }

    [ServerFact("postfix")]
    public async Task Probe_ChainFileThenLeafAlone_ChainCompleteThenIncomplete()
    {
        var probe = new StartTlsProbe(TimeSpan.FromSeconds(10), TimeProvider.System);
        foreach (int port in new[] { _postfix.SmtpPort, _postfix.SubmissionPort })
        {
            var served = await probe.ProbeAsync(new TlsEndpoint("127.0.0.1", port, false), CancellationToken.None);
            Assert.True(served.Ok, served.Problem);
            Assert.Null(served.ChainProblem);
            Assert.Equal($"{Host} <- MailAgent Test CA (root sent by the listener)", served.Chain);
        }

        // An operator points Postfix at the leaf alone (cert.pem instead of fullchain.pem) and reloads.
        Renew(_first.KeyPem + _first.CertificatePem);
        await Tool.RunAsync("/usr/sbin/postfix", ["-c", _postfix.ConfigDirectory, "reload"], CancellationToken.None);

        foreach (int port in new[] { _postfix.SmtpPort, _postfix.SubmissionPort })
        {
            var served = await Eventually.UntilAsync(
                ct => probe.ProbeAsync(new TlsEndpoint("127.0.0.1", port, false), ct),
                s => s.ChainProblem != null,
                TimeSpan.FromSeconds(30),
                s => $"{s.Endpoint} still serves a complete chain after the reload: {s.Chain} ({s.Problem})");
            Assert.Equal(_first.Fingerprint, served.Fingerprint);
            Assert.StartsWith("chain incomplete: the issuer 'CN=MailAgent Test CA' of 'CN=" + Host + "' is neither sent by the listener", served.ChainProblem, StringComparison.Ordinal);
        }
    }

    // As certbot renews: a new numbered file in archive/, then the live link moved to it.
    private void Renew(string content)
    {
        WriteVersion(content, ++_version);
        string temporary = Live + ".new";
        File.CreateSymbolicLink(temporary, $"../../archive/mail/chain{_version}.pem");
        File.Move(temporary, Live, overwrite: true);
    }

    private void WriteVersion(string content, int version)
    {
        File.WriteAllText(Archive(version), content);
    }

    private async Task AssertServedAsync(string fingerprint)
    {
        var probe = new StartTlsProbe(TimeSpan.FromSeconds(10), TimeProvider.System);
        foreach (int port in new[] { _postfix.SmtpPort, _postfix.SubmissionPort })
        {
            var served = await probe.ProbeAsync(new TlsEndpoint("127.0.0.1", port, false), CancellationToken.None);
            Assert.True(served.Ok, served.Problem);
            Assert.Equal(fingerprint, served.Fingerprint);
        }
    }

    private int MasterPid()
    {
        string[] candidates = [Path.Combine(_postfix.QueueDirectory, "pid", "master.pid"), Path.Combine(_postfix.DataDirectory, "master.lock")];
        string file = candidates.First(File.Exists);
        // Master holds a lock on its pid file, which .NET's own reads respect: cat ignores it.
        using var cat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("cat", file) { RedirectStandardOutput = true })!;
        string text = cat.StandardOutput.ReadToEnd();
        cat.WaitForExit();
        return int.Parse(text.Trim(), CultureInfo.InvariantCulture);
    }
}
