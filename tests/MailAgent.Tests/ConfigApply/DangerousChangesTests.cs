using MailAgent.ConfigApply;

namespace MailAgent.Tests.ConfigApply;

public sealed class DangerousChangesTests
{
    private const string ConfigDirectory = "/etc/postfix";

    [Theory]
    [InlineData("relayhost", "", "[evil.example]:25", "decides where mail goes")]
    [InlineData("transport_maps", "", "inline:{*=smtp:[evil.example]}", "decides where mail goes")]
    [InlineData("smtpd_milters", "", "inet:127.0.0.1:19199", "decides where mail goes")]
    [InlineData("non_smtpd_milters", "", "unix:/run/x", "decides where mail goes")]
    [InlineData("header_checks", "", "regexp:/etc/postfix/header_checks", "decides where mail goes")]
    [InlineData("content_filter", "", "smtp:[evil.example]:10025", "decides where mail goes")]
    [InlineData("always_bcc", "", "spy@evil.example", "decides where mail goes")]
    [InlineData("smtp_tls_security_level", "encrypt", "may", "TLS downgrade")]
    [InlineData("smtpd_tls_security_level", "may", "none", "TLS downgrade")]
    [InlineData("smtp_tls_security_level", "verify", "$weak", "TLS downgrade")]
    [InlineData("smtp_tls_mandatory_protocols", ">=TLSv1.2", ">=TLSv1", "enables TLSv1, TLSv1.1")]
    [InlineData("smtpd_tls_protocols", ">=TLSv1.2", "!SSLv2, !SSLv3", "enables TLSv1, TLSv1.1")]
    [InlineData("smtp_tls_mandatory_ciphers", "medium", "export", "TLS downgrade")]
    [InlineData("smtpd_recipient_restrictions", "permit_mynetworks, reject", "check_policy_service inet:203.0.113.9:9998, reject", "sends mail data")]
    [InlineData("smtpd_recipient_restrictions", "permit_mynetworks, reject", "check_client_access regexp:/etc/shadow, reject", "names /etc/shadow, outside")]
    [InlineData("smtpd_sender_restrictions", "", "check_sender_access hash:/etc/postfix/../shadow", "outside")]
    [InlineData("smtpd_sender_restrictions", "", "check_sender_access hash:${data_directory}/x", "outside")]
    [InlineData("smtpd_sender_restrictions", "", "check_sender_access tcp:127.0.0.1:7777", "sends mail data")]
    public void Problem_DangerousChange_NamesWhy(string name, string oldValue, string newValue, string expected)
    {
        var problem = DangerousChanges.Problem(name, oldValue, newValue, removed: false, ConfigDirectory);

        Assert.NotNull(problem);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("smtp_destination_rate_delay", "0s", "1s")]
    [InlineData("smtp_tls_security_level", "may", "encrypt")]
    [InlineData("smtp_tls_security_level", "", "may")]
    [InlineData("smtp_tls_mandatory_protocols", ">=TLSv1", ">=TLSv1.2")]
    [InlineData("smtpd_tls_protocols", "!SSLv2, !SSLv3", "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1")]
    [InlineData("smtp_tls_mandatory_ciphers", "medium", "high")]
    [InlineData("smtpd_recipient_restrictions", "", "permit_mynetworks, check_client_access hash:/etc/postfix/access, reject_unauth_destination")]
    [InlineData("smtpd_sender_restrictions", "", "check_sender_access hash:$config_directory/senders")]
    [InlineData("message_size_limit", "10240000", "20480000")]
    public void Problem_SafeChange_Null(string name, string oldValue, string newValue)
    {
        Assert.Null(DangerousChanges.Problem(name, oldValue, newValue, removed: false, ConfigDirectory));
    }

    [Fact]
    public void Problems_NameOnAllowDangerous_Passes()
    {
        var diff = new List<ConfigChange> { new("relayhost", "", "[relay.example]:587", false), new("smtpd_milters", "", "inet:127.0.0.1:8891", false) };

        var problems = DangerousChanges.Problems(diff, new Dictionary<string, string>(), ConfigDirectory, new AllowList(["relayhost"]));

        Assert.Equal("smtpd_milters", Assert.Single(problems)[..13]);
        Assert.Contains("ConfigApply:AllowDangerous", problems[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Problems_RemovedTlsLevel_ComparedWithTheDefault()
    {
        var diff = new List<ConfigChange> { new("smtp_tls_security_level", "encrypt", "", true) };

        var problems = DangerousChanges.Problems(diff, new Dictionary<string, string> { ["smtp_tls_security_level"] = "" }, ConfigDirectory, new AllowList([]));

        Assert.Contains("TLS downgrade", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(">=TLSv1.2", "")]
    [InlineData(">=TLSv1", "TLSv1,TLSv1.1")]
    [InlineData("!SSLv2, !SSLv3", "TLSv1,TLSv1.1")]
    [InlineData("TLSv1.2 TLSv1.3", "")]
    [InlineData("", "SSLv2,SSLv3,TLSv1,TLSv1.1")]
    public void WeakProtocols_PostfixSyntax_TheEnabledOldOnes(string value, string expected)
    {
        Assert.Equal(expected, string.Join(',', DangerousChanges.WeakProtocols(value)));
    }
}
