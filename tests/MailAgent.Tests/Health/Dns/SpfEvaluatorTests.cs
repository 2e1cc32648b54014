using System.Net;
using MailAgent.Health.Dns;

namespace MailAgent.Tests.Health.Dns;

public sealed class SpfEvaluatorTests
{
    private const string Domain = "example.test";
    private static readonly IPAddress Host = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress Host6 = IPAddress.Parse("2001:db8::10");

    private static Task<SpfVerdict> Evaluate(FakeDnsLookup dns, IPAddress? address = null) =>
        new SpfEvaluator(dns).CheckHostAsync(address ?? Host, Domain, CancellationToken.None);

    [Theory]
    [InlineData("v=spf1 ip4:192.0.2.10 -all", "Pass")]
    [InlineData("v=spf1 ip4:192.0.2.0/24 -all", "Pass")]
    [InlineData("v=spf1 ip4:192.0.2.11 -all", "Fail")]
    [InlineData("v=spf1 ip4:192.0.3.0/24 ~all", "SoftFail")]
    [InlineData("v=spf1 ip4:192.0.3.0/24 ?all", "Neutral")]
    [InlineData("v=spf1 ip4:192.0.3.0/24", "Neutral")]
    [InlineData("v=spf1 -ip4:192.0.2.0/25 +all", "Fail")]
    [InlineData("v=spf1 ip4:192.0.2.8/30 -all", "Pass")]
    [InlineData("v=spf1 ip4:192.0.2.12/30 -all", "Fail")]
    [InlineData("v=spf1 ip6:2001:db8::/32 -all", "Fail")]
    [InlineData("V=SPF1 IP4:192.0.2.10 -ALL", "Pass")]
    [InlineData("v=spf1 ip4:192.0.2.10/33 -all", "PermError")]
    [InlineData("v=spf1 ip4:not-an-ip -all", "PermError")]
    [InlineData("v=spf1 foo:bar -all", "PermError")]
    [InlineData("v=spf1 exp=explain.example.test unknown-mod=x ip4:192.0.2.10 -all", "Pass")]
    [InlineData("v=spf10 ip4:192.0.2.10 -all", "None")]
    public async Task CheckHostAsync_Ip4Record_ResultByQualifierAndCidr(string record, string expected)
    {
        var dns = new FakeDnsLookup().AddTxt(Domain, record);

        var verdict = await Evaluate(dns);

        Assert.Equal(expected, verdict.Result.ToString());
        Assert.Contains(Domain, verdict.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v=spf1 ip6:2001:db8::/64 -all", "Pass")]
    [InlineData("v=spf1 ip6:2001:db8:0:1::/64 -all", "Fail")]
    [InlineData("v=spf1 ip4:192.0.2.10 -all", "Fail")]
    [InlineData("v=spf1 a//64 -all", "Pass")]
    public async Task CheckHostAsync_Ip6Address_MatchesIp6TermsOnly(string record, string expected)
    {
        var dns = new FakeDnsLookup().AddTxt(Domain, record).AddAddress(Domain, "2001:db8::99");

        Assert.Equal(expected, (await Evaluate(dns, Host6)).Result.ToString());
    }

    [Fact]
    public async Task CheckHostAsync_NoRecord_None()
    {
        var dns = new FakeDnsLookup().AddTxt(Domain, "google-site-verification=abc");

        var verdict = await Evaluate(dns);

        Assert.Equal(SpfResult.None, verdict.Result);
        Assert.Contains("no SPF record", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHostAsync_TwoRecords_PermError()
    {
        var dns = new FakeDnsLookup().AddTxt(Domain, "v=spf1 -all").AddTxt(Domain, "v=spf1 +all");

        Assert.Equal(SpfResult.PermError, (await Evaluate(dns)).Result);
    }

    [Theory]
    [InlineData("v=spf1 a -all", "192.0.2.10", "Pass")]
    [InlineData("v=spf1 a -all", "192.0.2.11", "Fail")]
    [InlineData("v=spf1 a/24 -all", "192.0.2.11", "Pass")]
    [InlineData("v=spf1 a:other.test -all", "192.0.2.10", "Fail")]
    [InlineData("v=spf1 a:other.test/24 -all", "192.0.2.10", "Pass")]
    public async Task CheckHostAsync_AMechanism_MatchesTheDomainsAddresses(string record, string domainAddress, string expected)
    {
        var dns = new FakeDnsLookup().AddTxt(Domain, record).AddAddress(Domain, domainAddress).AddAddress("other.test", "192.0.2.200");

        Assert.Equal(expected, (await Evaluate(dns)).Result.ToString());
    }

    [Fact]
    public async Task CheckHostAsync_MxMechanism_MatchesAnExchangesAddress()
    {
        var dns = new FakeDnsLookup().AddTxt(Domain, "v=spf1 mx -all").AddAddress("mx1.test", "198.51.100.1").AddAddress("mx2.test", "192.0.2.10");
        dns.Mx[Domain] = ["mx1.test", "mx2.test"];

        Assert.Equal(SpfResult.Pass, (await Evaluate(dns)).Result);
    }

    [Fact]
    public async Task CheckHostAsync_IncludeAndRedirect_FollowedAndResultsMapped()
    {
        var dns = new FakeDnsLookup()
            .AddTxt(Domain, "v=spf1 include:_spf.provider.test redirect=_spf.example.test")
            .AddTxt("_spf.provider.test", "v=spf1 ip4:198.51.100.0/24 -all")
            .AddTxt("_spf.example.test", "v=spf1 ip4:192.0.2.10 ~all");

        var pass = await Evaluate(dns);
        var softfail = await Evaluate(dns, IPAddress.Parse("203.0.113.1"));
        var throughInclude = await Evaluate(dns, IPAddress.Parse("198.51.100.7"));

        Assert.Equal(SpfResult.Pass, pass.Result);
        Assert.Contains("_spf.example.test", pass.Reason, StringComparison.Ordinal);
        Assert.Equal(SpfResult.SoftFail, softfail.Result);
        Assert.Equal(SpfResult.Pass, throughInclude.Result);
        Assert.Contains("_spf.provider.test", throughInclude.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHostAsync_IncludeWithoutRecord_PermError()
    {
        var dns = new FakeDnsLookup().AddTxt(Domain, "v=spf1 include:missing.test -all");

        var verdict = await Evaluate(dns);

        Assert.Equal(SpfResult.PermError, verdict.Result);
        Assert.Contains("missing.test", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHostAsync_ElevenLookups_PermErrorNamingTheLimit()
    {
        var dns = new FakeDnsLookup();
        dns.AddTxt(Domain, "v=spf1 " + string.Join(' ', Enumerable.Range(1, 11).Select(i => $"include:i{i}.test")) + " -all");
        for (int i = 1; i <= 11; i++)
            dns.AddTxt($"i{i}.test", "v=spf1 ip4:198.51.100.1 -all");

        var verdict = await Evaluate(dns);

        Assert.Equal(SpfResult.PermError, verdict.Result);
        Assert.Contains("more than 10 DNS lookups", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHostAsync_TenLookups_StillEvaluated()
    {
        var dns = new FakeDnsLookup();
        dns.AddTxt(Domain, "v=spf1 " + string.Join(' ', Enumerable.Range(1, 10).Select(i => $"include:i{i}.test")) + " -all");
        for (int i = 1; i <= 10; i++)
            dns.AddTxt($"i{i}.test", i == 10 ? "v=spf1 ip4:192.0.2.10 -all" : "v=spf1 ip4:198.51.100.1 -all");

        Assert.Equal(SpfResult.Pass, (await Evaluate(dns)).Result);
    }

    [Fact]
    public async Task CheckHostAsync_IncludeLoop_StopsAtTheLookupLimit()
    {
        var dns = new FakeDnsLookup().AddTxt(Domain, "v=spf1 include:example.test -all");

        Assert.Equal(SpfResult.PermError, (await Evaluate(dns)).Result);
    }

    [Fact]
    public async Task CheckHostAsync_ThreeVoidLookups_PermError()
    {
        var dns = new FakeDnsLookup().AddTxt(Domain, "v=spf1 a:v1.test a:v2.test a:v3.test -all");

        var verdict = await Evaluate(dns);

        Assert.Equal(SpfResult.PermError, verdict.Result);
        Assert.Contains("find nothing", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHostAsync_ExistsWithIpMacro_ExpandedAndQueried()
    {
        var listed = new FakeDnsLookup().AddTxt(Domain, "v=spf1 exists:%{ir}._spf.%{d} -all").AddAddress("10.2.0.192._spf." + Domain, "127.0.0.2");
        var unlisted = new FakeDnsLookup().AddTxt(Domain, "v=spf1 exists:%{ir}._spf.%{d} -all").AddAddress("11.2.0.192._spf." + Domain, "127.0.0.2");

        Assert.Equal(SpfResult.Pass, (await Evaluate(listed)).Result);
        Assert.Equal(SpfResult.Fail, (await Evaluate(unlisted)).Result);
    }

    [Fact]
    public async Task CheckHostAsync_ResolverUnreachable_TempError()
    {
        var dns = new FakeDnsLookup { Unreachable = true };

        var verdict = await Evaluate(dns);

        Assert.Equal(SpfResult.TempError, verdict.Result);
        Assert.Contains("did not answer", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHostAsync_PtrAndExists_Evaluated()
    {
        var dns = new FakeDnsLookup()
            .AddTxt(Domain, "v=spf1 ptr -all")
            .AddAddress("mail.example.test", "192.0.2.10");
        dns.Ptr[Host] = ["mail.example.test"];
        var exists = new FakeDnsLookup().AddTxt(Domain, "v=spf1 exists:allowed.example.test -all").AddAddress("allowed.example.test", "127.0.0.2");

        Assert.Equal(SpfResult.Pass, (await Evaluate(dns)).Result);
        Assert.Equal(SpfResult.Pass, (await Evaluate(exists)).Result);
    }

    [Theory]
    [InlineData("", 32, 128, true)]
    [InlineData("/24", 24, 128, true)]
    [InlineData("//64", 32, 64, true)]
    [InlineData("/24//64", 24, 64, true)]
    [InlineData("/33", 0, 0, false)]
    [InlineData("/24//", 0, 0, false)]
    [InlineData("/024", 0, 0, false)]
    [InlineData("/x", 0, 0, false)]
    public void TryCidr_Forms_ParsedOrRejected(string text, int v4, int v6, bool ok)
    {
        Assert.Equal(ok, SpfEvaluator.TryCidr(text, out int four, out int six));
        if (ok)
        {
            Assert.Equal(v4, four);
            Assert.Equal(v6, six);
        }
    }

    [Theory]
    [InlineData("192.0.2.10", "192.0.2.0", 24, true)]
    [InlineData("192.0.2.10", "192.0.4.0", 23, false)]
    [InlineData("192.0.2.10", "192.0.3.0", 23, true)]
    [InlineData("192.0.2.10", "192.0.2.0", 23, true)]
    [InlineData("192.0.2.10", "10.0.0.0", 0, true)]
    [InlineData("2001:db8::1", "2001:db8::", 32, true)]
    [InlineData("2001:db9::1", "2001:db8::", 32, false)]
    [InlineData("192.0.2.10", "2001:db8::", 0, false)]
    public void SameNetwork_Prefixes(string a, string b, int prefix, bool expected) =>
        Assert.Equal(expected, SpfEvaluator.SameNetwork(IPAddress.Parse(a), IPAddress.Parse(b), prefix));
}
