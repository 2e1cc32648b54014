using MailAgent.Certificates;

namespace MailAgent.Tests.Certificates;

public sealed class CertificateValidatorTests : IDisposable
{
    private const string Host = "mail.example.test";
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private readonly TestCertificates _certs = new(Now);

    public void Dispose() => _certs.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Validate_GoodPairWithChain_IsValid(bool rsa)
    {
        var pair = _certs.Leaf([Host], Now.AddDays(-1), Now.AddDays(60), rsa);

        var result = CertificateValidator.Validate(pair.FullChain, pair.KeyPem, Host, Now);

        Assert.True(result.IsValid, result.Reason);
        Assert.Equal(pair.Fingerprint, result.Fingerprint);
        Assert.Contains("root bundled", result.ChainDescription, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ChainFileWithKeyFirst_IsValid()
    {
        var pair = _certs.Leaf([Host], Now.AddDays(-1), Now.AddDays(60));

        var result = CertificateValidator.Validate(pair.ChainFile, pair.ChainFile, Host, Now);

        Assert.True(result.IsValid, result.Reason);
    }

    [Fact]
    public void Validate_Expired_IsExpired()
    {
        var pair = _certs.Leaf([Host], Now.AddDays(-90), Now.AddSeconds(-1));

        var result = CertificateValidator.Validate(pair.FullChain, pair.KeyPem, Host, Now);

        Assert.Equal(CertificateProblem.Expired, result.Problem);
        Assert.Contains("expired", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NotYetValid_IsNotYetValid()
    {
        var pair = _certs.Leaf([Host], Now.AddHours(1), Now.AddDays(90));

        Assert.Equal(CertificateProblem.NotYetValid, CertificateValidator.Validate(pair.FullChain, pair.KeyPem, Host, Now).Problem);
    }

    [Fact]
    public void Validate_OtherName_IsNameMismatch()
    {
        var pair = _certs.Leaf(["www.example.test"], Now.AddDays(-1), Now.AddDays(60));

        var result = CertificateValidator.Validate(pair.FullChain, pair.KeyPem, Host, Now);

        Assert.Equal(CertificateProblem.NameMismatch, result.Problem);
        Assert.Contains("www.example.test", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_KeyOfAnotherCertificate_IsKeyMismatch()
    {
        var pair = _certs.Leaf([Host], Now.AddDays(-1), Now.AddDays(60));
        var other = _certs.Leaf([Host], Now.AddDays(-1), Now.AddDays(60));

        var result = CertificateValidator.Validate(pair.FullChain, other.KeyPem, Host, Now);

        Assert.Equal(CertificateProblem.KeyMismatch, result.Problem);
    }

    [Fact]
    public void Validate_RsaKeyWithEcdsaCertificate_IsKeyMismatch()
    {
        var pair = _certs.Leaf([Host], Now.AddDays(-1), Now.AddDays(60));
        var rsa = _certs.Leaf([Host], Now.AddDays(-1), Now.AddDays(60), rsa: true);

        Assert.Equal(CertificateProblem.KeyMismatch, CertificateValidator.Validate(pair.FullChain, rsa.KeyPem, Host, Now).Problem);
    }

    [Fact]
    public void Validate_LeafWithoutItsIssuer_IsNoChain()
    {
        var pair = _certs.Leaf([Host], Now.AddDays(-1), Now.AddDays(60));

        var result = CertificateValidator.Validate(pair.CertificatePem, pair.KeyPem, Host, Now);

        Assert.Equal(CertificateProblem.NoChain, result.Problem);
        Assert.Contains("chain incomplete", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_LoneSelfSigned_IsNoChain()
    {
        var pair = TestCertificates.SelfSigned(Host, Now);

        Assert.Equal(CertificateProblem.NoChain, CertificateValidator.Validate(pair.CertificatePem, pair.KeyPem, Host, Now).Problem);
    }

    [Fact]
    public void Validate_NoKey_IsNoKey()
    {
        var pair = _certs.Leaf([Host], Now.AddDays(-1), Now.AddDays(60));

        Assert.Equal(CertificateProblem.NoKey, CertificateValidator.Validate(pair.FullChain, pair.FullChain, Host, Now).Problem);
    }

    [Fact]
    public void Validate_Garbage_IsNoCertificate()
    {
        Assert.Equal(CertificateProblem.NoCertificate, CertificateValidator.Validate("not a pem", "", Host, Now).Problem);
    }

    [Fact]
    public void Validate_CommonNameOnlyWithoutSan_CoversTheHost()
    {
        var pair = _certs.Leaf([], Now.AddDays(-1), Now.AddDays(60), commonName: Host);

        Assert.True(CertificateValidator.Validate(pair.FullChain, pair.KeyPem, Host, Now).IsValid);
    }

    [Fact]
    public void Validate_CommonNameIgnoredWhenSanPresent_IsNameMismatch()
    {
        var pair = _certs.Leaf(["www.example.test"], Now.AddDays(-1), Now.AddDays(60), commonName: Host);

        Assert.Equal(CertificateProblem.NameMismatch, CertificateValidator.Validate(pair.FullChain, pair.KeyPem, Host, Now).Problem);
    }

    [Theory]
    [InlineData("*.example.test", "mail.example.test", true)]
    [InlineData("*.example.test", "MAIL.Example.Test.", true)]
    [InlineData("*.example.test", "example.test", false)]
    [InlineData("*.example.test", "a.mail.example.test", false)]
    [InlineData("*.test", "example.test", false)]
    [InlineData("mail.example.test", "mail.example.test", true)]
    [InlineData("mail.example.test", "mx.example.test", false)]
    public void Covers_Names_MatchesExactlyOrOneWildcardLabel(string name, string host, bool expected)
    {
        Assert.Equal(expected, CertificateValidator.Covers([name], host));
    }
}
