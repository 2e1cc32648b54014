using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MailControlPlane.Probing;
using MailControlPlane.Registry;
using MailControlPlane.Scoring;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace MailControlPlane.Tests.Probing;

/// <summary>The control plane's SMTP probe against a private Postfix on loopback serving STARTTLS.</summary>
public sealed class SmtpProberPostfixTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cp-probe-" + Guid.NewGuid().ToString("N")[..8]);
    private PrivatePostfix? _postfix;
    private DateTimeOffset _notAfter;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=mail.probe.test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("mail.probe.test");
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        _notAfter = now.AddDays(30);
        using var cert = request.CreateSelfSigned(now.AddDays(-1), _notAfter);
        string chain = Path.Combine(_dir, "chain.pem");
        await File.WriteAllTextAsync(chain, key.ExportPkcs8PrivateKeyPem() + "\n" + cert.ExportCertificatePem() + "\n");
        _postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { TlsChainFile = chain, Diagnostics = output.WriteLine });
    }

    public async Task DisposeAsync()
    {
        if (_postfix != null)
            await _postfix.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private ProbeTarget Target => new("127.0.0.1", _postfix!.SmtpPort);

    private static ProbeOptions Options(string name = "mail.probe.test") => new() { Enabled = true, CertificateName = name, Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task ProbeAsync_HealthyPostfixWithStartTls_PassesWithTime()
    {
        var result = await new SmtpProber(Options(), TimeProvider.System).ProbeAsync(Target, CancellationToken.None);

        Assert.True(result.Ok, result.Reason);
        Assert.StartsWith("banner, EHLO, STARTTLS (certificate until ", result.Reason, StringComparison.Ordinal);
        Assert.True(result.Elapsed > TimeSpan.Zero);
        Assert.NotNull(result.CertificateNotAfter);
        Assert.True(Math.Abs((result.CertificateNotAfter!.Value - _notAfter).TotalSeconds) < 2);
    }

    [Fact]
    public async Task ProbeAsync_CertificateForAnotherName_Fails()
    {
        var result = await new SmtpProber(Options("mail.elsewhere.test"), TimeProvider.System).ProbeAsync(Target, CancellationToken.None);

        Assert.False(result.Ok);
        Assert.Contains("does not name mail.elsewhere.test", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeAsync_CertificateExpiredByTheClock_Fails()
    {
        var later = new FakeTimeProvider(_notAfter.AddDays(1));

        var result = await new SmtpProber(Options(), later).ProbeAsync(Target, CancellationToken.None);

        Assert.False(result.Ok);
        Assert.Contains("the served certificate expired at", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeAsync_PostfixStopped_FailsOnConnect()
    {
        var target = Target;
        await _postfix!.DisposeAsync();
        _postfix = null;

        var result = await new SmtpProber(Options(), TimeProvider.System).ProbeAsync(target, CancellationToken.None);

        Assert.False(result.Ok);
        Assert.StartsWith("connect to 127.0.0.1:", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeRunner_AgentGoneAndPostfixStopped_ScoreZero()
    {
        // A healthy provider, then its agent gone (connection dropped) and its Postfix stopped: the probe decides at once.
        var agent = new RegisteredAgent("postfix-oregon", new Uri("https://127.0.0.1:1"), "us-west-2", "postfix-oregon", "127.0.0.1", _postfix!.SmtpPort);
        var runner = new ProbeRunner(Options(), [agent], new SmtpProber(Options(), TimeProvider.System), null, TimeProvider.System, Prometheus.Metrics.NewCustomRegistry(), NullLogger<ProbeRunner>.Instance);
        var scorer = new HealthScorer(new ScoringOptions { JitterSeed = 1 }, TimeProvider.System);
        var heard = DateTimeOffset.UtcNow;
        AgentObservation Observation(bool gone) => new(heard, [new("postfix", CheckStatus.Healthy, "running")], null, AgentGone: gone, Probe: runner.Latest(agent.ProviderName));
        ProviderAssessment Evaluate(bool gone) => scorer.Evaluate(new Dictionary<string, AgentObservation> { [agent.ProviderName] = Observation(gone) }, 1).Single();

        Assert.True((await runner.ProbeOnceAsync(agent, CancellationToken.None))!.Ok);
        var healthy = Evaluate(gone: false);
        Assert.Equal(100, healthy.Score);
        Assert.NotNull(healthy.ResponseTimeMs);

        // Agent gone, SMTP still healthy: frozen and unknown.
        await runner.ProbeOnceAsync(agent, CancellationToken.None);
        var frozen = Evaluate(gone: true);
        Assert.Equal((ProviderState.Unknown, 100), (frozen.State, frozen.Score));

        // Agent gone and Postfix stopped: 0 and failed at the next probe.
        await _postfix.DisposeAsync();
        _postfix = null;
        Assert.False((await runner.ProbeOnceAsync(agent, CancellationToken.None))!.Ok);
        var dead = Evaluate(gone: true);
        Assert.Equal(0, dead.Score);
        Assert.Equal(ProviderState.Failed, dead.State);
        Assert.Contains("the agent is unreachable and the SMTP probe fails (connect to 127.0.0.1:", dead.Reason, StringComparison.Ordinal);
    }
}
