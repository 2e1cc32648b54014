using MailControlPlane.Scoring;

namespace MailControlPlane.Tests.Scoring;

public sealed class HealthScorerCapTests
{
    private const string Provider = "postfix-virginia";

    private static ScoringFixture Unsmoothed() => new(new ScoringOptions { JitterSeed = 3, EwmaAlpha = 1 });

    [Fact]
    public void Evaluate_NoHeartbeatFor30Seconds_FrozenAndUnknown()
    {
        var f = Unsmoothed();
        var lastHeard = f.Time.GetUtcNow();
        Assert.Equal(ProviderState.Healthy, f.Evaluate(Provider, f.Healthy()).State);

        f.Time.Advance(TimeSpan.FromSeconds(31));
        // Whatever the stale observation says, the score does not move.
        var stale = new AgentObservation(lastHeard, [new("smtp", CheckStatus.Unhealthy, "refused")], null);
        var a = f.Evaluate(Provider, stale);

        Assert.Equal(ProviderState.Unknown, a.State);
        Assert.True(a.StateChanged);
        Assert.Equal(100, a.Score);
        Assert.True(a.IsActive);
        Assert.Contains("no heartbeat from the agent for 31 s, score frozen at 100", a.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_HeartbeatBackWithin90Seconds_ResumesState()
    {
        var f = Unsmoothed();
        var lastHeard = f.Time.GetUtcNow();
        f.Evaluate(Provider, f.Healthy());
        f.Time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(ProviderState.Unknown, f.Evaluate(Provider, new AgentObservation(lastHeard, [], null)).State);

        var a = f.Step(Provider, () => f.Healthy());

        Assert.Equal(ProviderState.Healthy, a.State);
        Assert.True(a.StateChanged);
    }

    [Fact]
    public void Evaluate_NoHeartbeatFor90Seconds_ZeroAndFailed()
    {
        var f = Unsmoothed();
        var lastHeard = f.Time.GetUtcNow();
        f.Evaluate(Provider, f.Healthy());
        f.Time.Advance(TimeSpan.FromSeconds(90));

        var a = f.Evaluate(Provider, new AgentObservation(lastHeard, [], null));

        Assert.Equal(0, a.Score);
        Assert.Equal(ProviderState.Failed, a.State);
        Assert.Contains("capped at 0: no heartbeat from the agent for 1 min 30 s", a.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_NeverHeard_UnknownThenZeroAfter90Seconds()
    {
        var f = Unsmoothed();
        var never = new AgentObservation(null, [], null);

        var first = f.Evaluate(Provider, never);
        f.Time.Advance(TimeSpan.FromSeconds(89));
        var before = f.Evaluate(Provider, never);
        f.Time.Advance(TimeSpan.FromSeconds(1));
        var after = f.Evaluate(Provider, never);

        Assert.Equal(ProviderState.Unknown, first.State);
        Assert.Equal(ProviderState.Unknown, before.State);
        Assert.Equal(ProviderState.Failed, after.State);
        Assert.Equal(0, after.Score);
    }

    [Theory]
    [InlineData("postfix", "Unhealthy", null, 0, "Postfix is not running")]
    [InlineData("tls", "Unhealthy", 200.0, 0, "the served certificate is not usable")]
    [InlineData("tls", "Degraded", -2.0, 0, "the served certificate has expired")]
    [InlineData("milter", "Degraded", 0.3, 40, "DKIM broken: 30% of messages signed, below 50%")]
    [InlineData("milter", "Unhealthy", null, 40, "DKIM broken: the signing milter does not work")]
    [InlineData("disk", "Unhealthy", 3.0, 10, "the queue file system is nearly full: 3% free, below 5%")]
    [InlineData("disk", "Unhealthy", null, 10, "the queue file system is nearly full")]
    public void Evaluate_HardCapCheck_CapsAtOnce(string check, string status, double? value, int cap, string reason)
    {
        var f = Unsmoothed();
        Assert.Equal(100, f.Evaluate(Provider, f.Healthy()).Score);

        var a = f.Step(Provider, () => new AgentObservation(f.Time.GetUtcNow(), [new(check, Enum.Parse<CheckStatus>(status), "the agent's words", value)], null));

        Assert.True(a.Score <= cap, $"score {a.Score} above cap {cap}");
        Assert.Contains($"capped at {cap}: {reason}", a.Reason, StringComparison.Ordinal);
        if (cap == 0)
            Assert.Equal(ProviderState.Failed, a.State);
    }

    [Fact]
    public void Evaluate_DnsDkimKeyMismatch_CapsAt40()
    {
        var f = Unsmoothed();
        var dns = new AgentCheck("dns", CheckStatus.Unhealthy,
            "DKIM: mail._domainkey.example.org does not carry the signing key from /etc/opendkim/mail.private: p= is another key; SPF pass: 192.0.2.1 authorised; DMARC: _dmarc.example.org exists with p=reject; PTR: 192.0.2.1 points to mx.example.org and back");

        var a = f.Evaluate(Provider, f.Healthy(dns));

        Assert.Equal(40, a.Score);
        Assert.Contains("capped at 40: DKIM broken: DKIM: mail._domainkey.example.org does not carry the signing key from /etc/opendkim/mail.private: p= is another key", a.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("SPF pass: 192.0.2.1 authorised; DMARC", a.Reason.Split("checks")[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_DnsSpfFailWithDkimFine_NoCapButChecksZero()
    {
        var f = Unsmoothed();
        var dns = new AgentCheck("dns", CheckStatus.Unhealthy,
            "SPF fail: 192.0.2.1 is not authorised by example.org (-all); DKIM: mail._domainkey.example.org carries the signing key; DMARC: _dmarc.example.org exists with p=reject");

        var a = f.Evaluate(Provider, f.Healthy(dns));

        Assert.Equal(80, a.Score);
        Assert.DoesNotContain("capped", a.Reason, StringComparison.Ordinal);
        Assert.Equal(0.0, a.Components["checks"], 9);
    }

    [Fact]
    public void Evaluate_BlocklistListedOnZen_CapsAt20()
    {
        var f = Unsmoothed();
        var blocklist = new AgentCheck("blocklist", CheckStatus.Unhealthy,
            "192.0.2.10 is LISTED on zen.spamhaus.org (127.0.0.2 SBL); example.org is not listed on dbl.spamhaus.org", 1);

        var a = f.Evaluate(Provider, f.Healthy(blocklist));

        Assert.Equal(20, a.Score);
        Assert.Contains("capped at 20: listed on a DNS blocklist: 192.0.2.10 is LISTED on zen.spamhaus.org (127.0.0.2 SBL)", a.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("dbl.spamhaus.org", a.Reason.Split("checks")[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_BlocklistRefusedAnswer_NoCap()
    {
        var f = Unsmoothed();
        // 127.255.255.254: the list refused a public resolver; it says nothing about the listing.
        var blocklist = new AgentCheck("blocklist", CheckStatus.Degraded,
            "zen.spamhaus.org refused the query for 192.0.2.10 (127.255.255.254: the resolver is public, unregistered or over quota), so the listing is unknown; example.org is not listed on dbl.spamhaus.org", 0);

        var a = f.Evaluate(Provider, f.Healthy(blocklist));

        Assert.DoesNotContain("capped", a.Reason, StringComparison.Ordinal);
        Assert.True(a.Score > 20, $"score {a.Score}: {a.Reason}");
    }

    [Fact]
    public void Evaluate_BlocklistClean_NoCapAndFullScore()
    {
        var f = Unsmoothed();
        var blocklist = new AgentCheck("blocklist", CheckStatus.Healthy,
            "192.0.2.10 is not listed on zen.spamhaus.org; example.org is not listed on dbl.spamhaus.org", 0);

        var a = f.Evaluate(Provider, f.Healthy(blocklist));

        Assert.Equal(100, a.Score);
        Assert.DoesNotContain("capped", a.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_BlocklistListedWithCustomCap_UsesOption()
    {
        var f = new ScoringFixture(new ScoringOptions { JitterSeed = 3, EwmaAlpha = 1, BlocklistCap = 5 });
        var blocklist = new AgentCheck("blocklist", CheckStatus.Unhealthy, "example.org is LISTED on dbl.spamhaus.org (127.0.1.2 DBL)", 1);

        var a = f.Evaluate(Provider, f.Healthy(blocklist));

        Assert.Equal(5, a.Score);
        Assert.Contains("capped at 5: listed on a DNS blocklist: example.org is LISTED on dbl.spamhaus.org", a.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DKIM: cannot read mail._domainkey.example.org: timeout; SPF fail: not authorised", false)]
    [InlineData("PTR: 192.0.2.1 has no PTR record; DKIM: no TXT record at mail._domainkey.example.org (NXDOMAIN); receivers cannot verify signatures with selector mail", true)]
    [InlineData("SPF fail: x", false)]
    public void DnsDkimFailing_Reasons_RecognisesDkimPart(string reason, bool failing)
    {
        Assert.Equal(failing, SignalReader.DnsDkimFailing(reason) != null);
    }

    [Fact]
    public void Evaluate_ChangeInProgress_CapsAt50ForTwoMinutes()
    {
        var f = Unsmoothed();
        var started = f.Time.GetUtcNow();
        AgentObservation Changing() => f.Healthy() with { ChangeStartedAt = started };

        var during = f.Evaluate(Provider, Changing());
        f.Time.Advance(TimeSpan.FromSeconds(121));
        var after = f.Evaluate(Provider, Changing());

        Assert.Equal(50, during.Score);
        Assert.Contains("capped at 50: a config apply or certificate reload is in progress", during.Reason, StringComparison.Ordinal);
        Assert.Equal(100, after.Score);
    }

    [Fact]
    public void Evaluate_CapLifted_ScoreClimbsBackSlowly()
    {
        var f = new ScoringFixture();
        Assert.Equal(100, f.Evaluate(Provider, f.Healthy()).Score);
        var started = f.Time.GetUtcNow();

        Assert.Equal(50, f.Step(Provider, () => f.Healthy() with { ChangeStartedAt = started }).Score);
        Assert.Equal(65, f.Step(Provider, () => f.Healthy()).Score);
        Assert.Equal(76, f.Step(Provider, () => f.Healthy()).Score); // 75.5
    }

    [Fact]
    public void Evaluate_CertificateExpiringSoon_LowersChecksProportionally()
    {
        var f = Unsmoothed();

        var a = f.Evaluate(Provider, f.Healthy(new AgentCheck("tls", CheckStatus.Healthy, "expires in 7 days", 7)));

        Assert.Equal(0.5, a.Components["checks"], 9);
        Assert.Equal(90, a.Score);
    }

    [Fact]
    public void Evaluate_DiskBetweenAnchors_HostLinear()
    {
        var f = Unsmoothed();

        var a = f.Evaluate(Provider, f.Healthy(new AgentCheck("disk", CheckStatus.Healthy, "20% free", 20)));

        Assert.Equal(1.0 / 3, a.Components["host"], 9);
        Assert.Contains("host 0.33: 20% free on the queue file system", a.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_QueueOldAndGrowing_QueueComponent()
    {
        var f = Unsmoothed();
        var now = f.Time.GetUtcNow();
        f.Evaluate(Provider, new AgentObservation(now, [], new QueueObservation(now, TimeSpan.FromSeconds(5), 100, 10, 100)));
        f.Time.Advance(TimeSpan.FromMinutes(5));
        now = f.Time.GetUtcNow();

        var a = f.Evaluate(Provider, new AgentObservation(now, [], new QueueObservation(now, TimeSpan.FromSeconds(5), 350, 10, 100)));

        Assert.Equal(0.5, a.Components["queue"], 9); // grew 250 of the 500 that make 0
        Assert.Contains("deferred queue grew by 250 in 10 min", a.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_ActiveHalfOfLimit_QueueZero()
    {
        var f = Unsmoothed();
        var now = f.Time.GetUtcNow();

        var a = f.Evaluate(Provider, new AgentObservation(now, [], new QueueObservation(now, TimeSpan.FromSeconds(5), 0, 10_000, 20_000)));

        Assert.Equal(0.0, a.Components["queue"], 9);
        Assert.Equal(85, a.Score);
    }
}
