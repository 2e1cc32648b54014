using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using MailAgent.Tests.Certificates;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Common;

/// <summary>The one server-certificate check against a private CA (agent connections, the webhook, the MTA-STS doctor).</summary>
public sealed class CertificateChainsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 3, 0, 0, TimeSpan.Zero);
    private readonly TestCertificates _pki = new(Now);
    private readonly TestCertificates _otherPki = new(Now);
    private readonly FakeTimeProvider _time = new(Now);

    public void Dispose()
    {
        _pki.Dispose();
        _otherPki.Dispose();
    }

    [Fact]
    public void ServerTrustedBy_LeafOfTheCaWithChainErrors_Accepted()
    {
        using var leaf = Leaf(_pki, Now.AddDays(-1), Now.AddDays(30));

        Assert.True(Check(alsoSystemTrust: false)(this, leaf, null, SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Theory]
    [InlineData(SslPolicyErrors.RemoteCertificateNameMismatch)]
    [InlineData(SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateChainErrors)]
    public void ServerTrustedBy_NameMismatch_RefusedWhateverTheChain(SslPolicyErrors errors)
    {
        using var leaf = Leaf(_pki, Now.AddDays(-1), Now.AddDays(30));

        Assert.False(Check(alsoSystemTrust: true)(this, leaf, null, errors));
    }

    [Fact]
    public void ServerTrustedBy_LeafOfAnotherCa_Refused()
    {
        using var leaf = Leaf(_otherPki, Now.AddDays(-1), Now.AddDays(30));

        Assert.False(Check(alsoSystemTrust: false)(this, leaf, null, SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public void ServerTrustedBy_ExpiredAtTheProvidersTime_Refused()
    {
        using var leaf = Leaf(_pki, Now.AddDays(-30), Now.AddDays(1));
        var check = Check(alsoSystemTrust: false);
        _time.Advance(TimeSpan.FromDays(2));

        Assert.False(check(this, leaf, null, SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public void ServerTrustedBy_SystemTrustedOnlyWhenAllowed()
    {
        using var leaf = Leaf(_otherPki, Now.AddDays(-1), Now.AddDays(30));

        Assert.True(Check(alsoSystemTrust: true)(this, leaf, null, SslPolicyErrors.None));
        Assert.False(Check(alsoSystemTrust: false)(this, leaf, null, SslPolicyErrors.None));
        Assert.False(Check(alsoSystemTrust: true)(this, null, null, SslPolicyErrors.RemoteCertificateNotAvailable));
    }

    private RemoteCertificateValidationCallback Check(bool alsoSystemTrust)
    {
        var trusted = new X509Certificate2Collection();
        trusted.ImportFromPem(_pki.CaPem);
        return CertificateChains.ServerTrustedBy(trusted, _time, alsoSystemTrust);
    }

    private static X509Certificate2 Leaf(TestCertificates pki, DateTimeOffset from, DateTimeOffset to) =>
        X509Certificate2.CreateFromPem(pki.Leaf(["mail.example.test"], from, to).CertificatePem);
}
