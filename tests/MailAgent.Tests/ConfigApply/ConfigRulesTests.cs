using MailAgent.Cli;
using MailAgent.ConfigApply;

namespace MailAgent.Tests.ConfigApply;

public sealed class ConfigRulesTests
{
    [Theory]
    [InlineData("smtp_destination_rate_delay", true)]
    [InlineData("relay_destination_concurrency_limit", true)]
    [InlineData("smtpd_recipient_restrictions", true)]
    [InlineData("smtpd_relay_restrictions", true)]
    [InlineData("smtpd_milters", true)]
    [InlineData("relayhost", true)]
    [InlineData("mynetworks", false)]
    [InlineData("inet_interfaces", false)]
    [InlineData("queue_directory", false)]
    [InlineData("_destination_rate_delay", false)]
    [InlineData("smtpd_restrictions", false)]
    public void Allows_DefaultList_OperatorTunablesOnly(string name, bool allowed)
    {
        var list = new AllowList(new ConfigApplyOptions().AllowedPatterns());

        Assert.Equal(allowed, list.Allows(name));
    }

    [Theory]
    [InlineData("relayhost", true)]
    [InlineData("smtp_*", true)]
    [InlineData("*_limit", true)]
    [InlineData("smtpd_*_restrictions", true)]
    [InlineData("*tls*", true)]
    [InlineData("*", false)]
    [InlineData("a*b*c", false)]
    [InlineData("Relay Host", false)]
    public void IsValidPattern_NamesAndOneWildcard(string pattern, bool valid) => Assert.Equal(valid, AllowList.IsValidPattern(pattern));

    [Fact]
    public void ReferencedFiles_TablesAndPaths_FilesPostfixWouldOpen()
    {
        var files = ConfigRules.ReferencedFiles("hash:/etc/postfix/transport, texthash:/etc/postfix/t2 proxy:lmdb:/x/y pcre:/etc/p.pcre inet:127.0.0.1:8891 $config_directory/z /abs/file {cidr:/c}");

        Assert.Equal(["/etc/postfix/transport.db", "/etc/postfix/t2", "/x/y.lmdb", "/etc/p.pcre", "/abs/file", "/c"], files);
    }

    [Fact]
    public void Diff_WhitespaceRunsEqual_Unchanged()
    {
        var current = new Dictionary<string, string> { ["smtpd_recipient_restrictions"] = "permit_mynetworks, reject" };

        var diff = ConfigRules.Diff(new Dictionary<string, string> { ["smtpd_recipient_restrictions"] = "permit_mynetworks,  reject " }, ["relayhost"], current);

        Assert.Empty(diff);
    }

    [Fact]
    public void ChangeFile_SetsContinuationsAndRemovals_Parsed()
    {
        bool ok = ChangeFile.TryParse("# change\nsmtp_destination_rate_delay = 1s\nsmtpd_recipient_restrictions = permit_mynetworks,\n    reject_unauth_destination\n-relayhost\n!transport_maps\n", out var set, out var remove, out var problem);

        Assert.True(ok, problem);
        Assert.Equal("1s", set["smtp_destination_rate_delay"]);
        Assert.Equal("permit_mynetworks, reject_unauth_destination", set["smtpd_recipient_restrictions"]);
        Assert.Equal(["relayhost", "transport_maps"], remove);
    }

    [Theory]
    [InlineData("relayhost = a\nrelayhost = b\n", "appears twice")]
    [InlineData("  continued\n", "continues nothing")]
    [InlineData("just words\n", "neither")]
    [InlineData("# only a comment\n", "no parameter")]
    public void ChangeFile_Malformed_SaysWhy(string text, string expected)
    {
        Assert.False(ChangeFile.TryParse(text, out _, out _, out var problem));
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BadValues_NameKeyValueAndWhatIsValid()
    {
        var errors = new List<string>();
        ConfigApplyOptions.Validate(new ConfigApplyOptions
        {
            AllowedParameters = "relayhost;a*b*c",
            AuditLogPath = "relative.log",
            VerifyTimeout = TimeSpan.Zero,
            IdempotencyKeysKept = -1,
        }, errors);

        Assert.Contains(errors, e => e.StartsWith("ConfigApply:AllowedParameters has 'a*b*c'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ConfigApply:AuditLogPath = 'relative.log' is not valid: use an absolute", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ConfigApply:VerifyTimeout = 00:00:00 is not valid", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ConfigApply:IdempotencyKeysKept = -1 is not valid", StringComparison.Ordinal));
        var none = new List<string>();
        ConfigApplyOptions.Validate(new ConfigApplyOptions(), none);
        Assert.Empty(none);
    }
}
