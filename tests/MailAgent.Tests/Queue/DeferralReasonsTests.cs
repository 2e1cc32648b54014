using MailAgent.Queue;

namespace MailAgent.Tests.Queue;

/// <summary>delay_reason texts as Postfix 3.x writes them (its own and remote servers' replies) and the class each falls in.</summary>
public sealed class DeferralReasonsTests
{
    [Theory]
    [InlineData("connect to 127.0.0.1[127.0.0.1]:2599: Connection refused", "refused")]
    [InlineData("delivery temporarily suspended: connect to mx.example.com[192.0.2.7]:25: Connection refused", "refused")]
    [InlineData("connect to mx.example.com[192.0.2.7]:25: Connection timed out", "timed_out")]
    [InlineData("conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting", "timed_out")]
    [InlineData("delivery temporarily suspended: conversation with mx.example.com[192.0.2.7] timed out while sending end of data -- message may be sent more than once", "timed_out")]
    [InlineData("Host or domain name not found. Name service error for name=example.invalid type=MX: Host not found, try again", "dns")]
    [InlineData("delivery temporarily suspended: Host or domain name not found. Name service error for name=example.com type=A: Host not found, try again", "dns")]
    [InlineData("Name service error for name=example.com type=MX: Malformed or unexpected name server reply", "dns")]
    [InlineData("TLS is required, but was not offered by host mx.example.com[192.0.2.7]", "tls")]
    [InlineData("Cannot start TLS: handshake failure", "tls")]
    [InlineData("delivery temporarily suspended: Server certificate not verified", "tls")]
    [InlineData("host mx.example.com[192.0.2.7] said: 454 4.7.0 TLS not available due to local problem (in reply to STARTTLS command)", "tls")]
    [InlineData("host 127.0.0.1[127.0.0.1] said: 451 4.7.1 Greylisting in action, please come back later (in reply to RCPT TO command)", "greylist_rate_limit")]
    [InlineData("host mx.example.com[192.0.2.7] said: 450 4.2.0 <u@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html (in reply to RCPT TO command)", "greylist_rate_limit")]
    [InlineData("host gmail-smtp-in.l.google.com[142.250.1.26] said: 450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. (in reply to end of DATA command)", "greylist_rate_limit")]
    [InlineData("host mx.example.com[192.0.2.7] said: 421 4.7.0 Too many concurrent SMTP connections from this IP address (in reply to MAIL FROM command)", "greylist_rate_limit")]
    [InlineData("host mx.example.com[192.0.2.7] said: 452 4.3.1 Rate limit exceeded, throttling (in reply to RCPT TO command)", "greylist_rate_limit")]
    [InlineData("host mta7.am0.yahoodns.net[67.195.204.77] said: 421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command)", "reputation")]
    [InlineData("host gmail-smtp-in.l.google.com[142.250.1.26] said: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address (in reply to end of DATA command)", "reputation")]
    [InlineData("host mx.example.com[192.0.2.7] said: 450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1] (in reply to RCPT TO command)", "reputation")]
    [InlineData("host mx.example.com[192.0.2.7] said: 451 Temporarily blocked: your IP has a poor reputation (in reply to RCPT TO command)", "reputation")]
    [InlineData("host mx.example.com[192.0.2.7] said: 450 Service unavailable; client [192.0.2.1] listed at zen.spamhaus.org (in reply to RCPT TO command)", "reputation")]
    [InlineData("lost connection with mx.example.com[192.0.2.7] while receiving the initial server greeting", "other")]
    [InlineData("connect to mx.example.com[192.0.2.7]:25: No route to host", "other")]
    [InlineData("host mx.example.com[192.0.2.7] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command)", "other")]
    [InlineData("host 10.4.7.12[10.4.7.12] said: 451 4.3.0 Temporary local problem (in reply to end of DATA command)", "other")]
    [InlineData("mail transport unavailable", "other")]
    [InlineData("deferred transport", "other")]
    [InlineData("", "other")]
    public void Classify_PostfixReason_ExpectedClass(string reason, string expected)
    {
        Assert.Equal(expected, DeferralReasons.Classify(reason).Label());
    }

    [Fact]
    public void Labels_OnePerClass_InEnumOrder()
    {
        Assert.Equal(Enum.GetValues<DeferralReason>().Length, DeferralReasons.Count);
        Assert.Equal("greylist_rate_limit", DeferralReason.GreylistRateLimit.Label());
        Assert.Equal("timed_out", DeferralReason.TimedOut.Label());
        Assert.Equal("other", DeferralReason.Other.Label());
    }
}
