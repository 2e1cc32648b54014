using System.Security.Cryptography;
using MailAgent.Health.Dns;

namespace MailAgent.Tests.Health.Dns;

public sealed class DkimKeyTests
{
    [Fact]
    public void JoinQuotedStrings_ZoneFileRecord_JoinsStringsAndDropsComment()
    {
        const string text = "sel._domainkey\tIN\tTXT\t( \"v=DKIM1; k=rsa; \"\n\t  \"p=AB\\\"C\"\n\t  \"DE\" )  ; ----- \"DKIM key\"\n";

        Assert.Equal("v=DKIM1; k=rsa; p=AB\"CDE", DkimKey.JoinQuotedStrings(text));
    }

    [Theory]
    [InlineData("v=DKIM1; k=rsa; p=ABC", "p", "ABC")]
    [InlineData("v=DKIM1;p= A B\tC ;", "p", "ABC")]
    [InlineData("V=DKIM1; P=x; p=y", "p", "x")]
    [InlineData("p=", "p", "")]
    public void ParseTags_Forms_ValueWithoutWhitespace(string record, string tag, string expected) =>
        Assert.Equal(expected, DkimKey.ParseTags(record)[tag]);

    [Theory]
    [InlineData(";;;")]
    [InlineData("=x; ==; p")]
    [InlineData("")]
    public void ParseTags_Garbage_NoTagsNoThrow(string record) =>
        Assert.DoesNotContain("p", DkimKey.ParseTags(record).Keys);

    [Theory]
    [InlineData("not base64!")]
    [InlineData("AAAA")]
    public void Matches_GarbageRecordKey_FalseWithReason(string recordKey)
    {
        using var rsa = RSA.Create(1024);

        Assert.False(DkimKey.Matches(rsa.ExportSubjectPublicKeyInfo(), recordKey, out var why));
        Assert.Contains("p=", why, StringComparison.Ordinal);
    }

    [Fact]
    public void TryLoadPublicKey_PemPrivateKeyOrGarbage_KeyOrReason()
    {
        string dir = Directory.CreateTempSubdirectory("mailagent-dkimkey-").FullName;
        try
        {
            using var rsa = RSA.Create(1024);
            File.WriteAllText(Path.Combine(dir, "k.pem"), rsa.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(Path.Combine(dir, "bad.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
            File.WriteAllText(Path.Combine(dir, "none.txt"), "hello");

            Assert.True(DkimKey.TryLoadPublicKey(Path.Combine(dir, "k.pem"), out var key, out _));
            Assert.Equal(rsa.ExportSubjectPublicKeyInfo(), key);
            Assert.False(DkimKey.TryLoadPublicKey(Path.Combine(dir, "bad.pem"), out _, out var bad));
            Assert.Contains("RSA", bad, StringComparison.Ordinal);
            Assert.False(DkimKey.TryLoadPublicKey(Path.Combine(dir, "none.txt"), out _, out var none));
            Assert.Contains("p= tag", none, StringComparison.Ordinal);
            Assert.False(DkimKey.TryLoadPublicKey(Path.Combine(dir, "missing"), out _, out var missing));
            Assert.Contains("cannot be read", missing, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
