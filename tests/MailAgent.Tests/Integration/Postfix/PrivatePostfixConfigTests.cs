using System.Text.RegularExpressions;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>The generated configuration keeps every test on loopback, without starting anything.</summary>
[Trait("Category", "Integration")]
public sealed class PrivatePostfixConfigTests
{
    private static readonly PrivatePostfixLayout Layout =
        new("/tmp/mailagent-pf-unit", new PrivatePostfixPorts(2501, 2502, 2503, 2504, 2505, 2506, 2507, 2508));

    [Fact]
    public void TransportMap_EveryDomain_GoesToALiteralLoopbackPort()
    {
        var entries = PrivatePostfixConfig.TransportMap(Layout)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith('#'))
            .Select(l => l.Split(' ', 2))
            .ToDictionary(e => e[0], e => e[1]);

        Assert.Equal(
            [PrivatePostfix.AcceptDomain, PrivatePostfix.BounceDomain, PrivatePostfix.DeferDomain,
             PrivatePostfix.SigningDomain, PrivatePostfix.PolicyDomain, PrivatePostfix.UnreachableDomain],
            entries.Keys.Order());
        Assert.All(entries.Values, nextHop => Assert.Matches(@"^smtp:\[127\.0\.0\.1\]:25\d\d$", nextHop));
        Assert.Equal("smtp:[127.0.0.1]:2508", entries[PrivatePostfix.UnreachableDomain]);
    }

    [Fact]
    public void MainCf_Defaults_NothingCanLeaveLoopbackOrQueryDns()
    {
        var settings = Settings(PrivatePostfixConfig.MainCf(Layout, new PrivatePostfixOptions()));

        Assert.Equal("", settings["relayhost"]);
        Assert.StartsWith("error:", settings["default_transport"]);
        Assert.StartsWith("error:", settings["relay_transport"]);
        Assert.StartsWith("error:", settings["local_transport"]);
        Assert.Equal("127.0.0.1", settings["inet_interfaces"]);
        Assert.Equal("disabled", settings["smtp_dns_support_level"]);
        Assert.Equal("native", settings["smtp_host_lookup"]);
        Assert.Equal("no", settings["smtpd_peername_lookup"]);
        Assert.Equal("inet:127.0.0.1:2503", settings["smtpd_milters"]);
        Assert.Equal("/tmp/mailagent-pf-unit/log/postfix.log", settings["maillog_file"]);
        Assert.StartsWith(settings["maillog_file_prefixes"], settings["maillog_file"]);
        Assert.DoesNotContain("maximal_queue_lifetime", settings.Keys);
    }

    [Fact]
    public void MainCf_WithOptions_WritesTimersAndExtrasLast()
    {
        var options = new PrivatePostfixOptions
        {
            QueueRunDelay = TimeSpan.FromSeconds(1),
            MaximalQueueLifetime = TimeSpan.FromMinutes(1),
            ExtraMainCf = new Dictionary<string, string> { ["queue_run_delay"] = "3s" },
        };

        var text = PrivatePostfixConfig.MainCf(Layout, options);

        Assert.Equal("60s", Settings(text)["maximal_queue_lifetime"]);
        // Postfix uses the last of repeated settings: the extra one wins.
        Assert.Equal("3s", Settings(text)["queue_run_delay"]);
    }

    [Fact]
    public void MasterCf_Services_ListenOnLoopbackAndLogThroughPostlogd()
    {
        var master = PrivatePostfixConfig.MasterCf(Layout);

        Assert.Matches(new Regex(@"^127\.0\.0\.1:2501 +inet .* smtpd$", RegexOptions.Multiline), master);
        Assert.Matches(new Regex(@"^127\.0\.0\.1:2502 +inet .* smtpd\n +-o syslog_name=postfix/submission$", RegexOptions.Multiline), master);
        Assert.Matches(new Regex(@"^postlog +unix-dgram .* postlogd$", RegexOptions.Multiline), master);
        Assert.DoesNotMatch(new Regex(@"^\S+ +(inet|unix|unix-dgram|fifo|pass) +\S+ +\S+ +y ", RegexOptions.Multiline), master);
    }

    private static Dictionary<string, string> Settings(string mainCf)
    {
        var settings = new Dictionary<string, string>();
        foreach (var line in mainCf.Split('\n').Where(l => l.Contains(" = ", StringComparison.Ordinal) && !l.StartsWith('#')))
        {
            var parts = line.Split(" = ", 2);
            settings[parts[0]] = parts[1];
        }

        return settings;
    }
}
