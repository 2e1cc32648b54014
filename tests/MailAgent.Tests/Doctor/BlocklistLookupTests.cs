using System.Net;
using MailAgent.Health.Dns;
using MailAgent.Tests.Health.Dns;

namespace MailAgent.Tests.Doctor;

public sealed class BlocklistLookupTests
{
    [Theory]
    [InlineData("192.0.2.10", "10.2.0.192")]
    [InlineData("::ffff:192.0.2.10", "10.2.0.192")]
    [InlineData("2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2")]
    public void Reversed_Address_AsDnsblsQueryIt(string address, string expected) =>
        Assert.Equal(expected, BlocklistLookup.Reversed(IPAddress.Parse(address)));

    [Theory]
    [InlineData("127.0.0.2", "Listed")]
    [InlineData("127.0.0.11", "Listed")]
    [InlineData("127.255.255.252", "Refused")]
    [InlineData("127.255.255.254", "Refused")]
    [InlineData("127.255.255.255", "Refused")]
    [InlineData(null, "Clean")]
    public async Task CheckAddressAsync_Answer_Standing(string? answer, string expected)
    {
        var dns = new FakeDnsLookup().AddTxt("zen.test", "zone");
        if (answer != null)
            dns.AddAddress("10.2.0.192.zen.test", answer);

        var result = await new BlocklistLookup(dns).CheckAddressAsync(IPAddress.Parse("192.0.2.10"), "zen.test", CancellationToken.None);

        Assert.Equal(Enum.Parse<BlocklistStanding>(expected), result.Standing);
    }

    [Fact]
    public async Task CheckDomainAsync_ResolverDown_Unknown()
    {
        var dns = new FakeDnsLookup { Unreachable = true };

        var result = await new BlocklistLookup(dns).CheckDomainAsync("example.test", "dbl.test", CancellationToken.None);

        Assert.Equal(BlocklistStanding.Unknown, result.Standing);
        Assert.Contains("could not be asked", result.ToString(), StringComparison.Ordinal);
    }
}
