using System.Text;
using MailAgent.Events;
using MailAgent.LogParsing;

namespace MailAgent.Tests.Events;

public sealed class BounceClassifierTests
{
    [Theory]
    [InlineData("Bounced", "5.1.1", "host mx[1.2.3.4] said: 550 5.1.1 The email account that you tried to reach does not exist", "Hard", "UnknownUser")]
    [InlineData("Bounced", "5.1.1", "unknown user: \"nosuch\"", "Hard", "UnknownUser")]
    [InlineData("Bounced", "5.1.10", "Domain example.net does not accept mail (nullMX)", "Hard", "Dns")]
    [InlineData("Bounced", "5.4.4", "Host or domain name not found. Name service error for name=x.invalid type=A: Host not found", "Hard", "Dns")]
    [InlineData("Deferred", "4.2.2", "said: 452 4.2.2 Mailbox full", "Soft", "MailboxFull")]
    [InlineData("Bounced", "5.7.1", "said: 550 5.7.1 Message rejected due to poor IP reputation", "Hard", "Policy")]
    [InlineData("Deferred", "4.7.1", "said: 451 4.7.1 Greylisted, try later", "Soft", "Policy")]
    [InlineData("Deferred", "4.7.5", "Cannot start TLS: handshake failure", "Soft", "Tls")]
    [InlineData("Deferred", "4.4.1", "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused", "Soft", "Connection")]
    [InlineData("Deferred", "4.4.2", "conversation with x timed out while receiving the initial server greeting", "Soft", "Connection")]
    [InlineData("Bounced", "5.3.4", "said: 552 5.3.4 Message size exceeds fixed limit", "Hard", "Message")]
    [InlineData("Bounced", "5.0.0", "said: 550 User unknown", "Hard", "UnknownUser")]
    [InlineData("Expired", "", "", "Soft", "Expired")]
    [InlineData("Sent", "2.0.0", "250 2.0.0 Ok", "None", "None")]
    public void Classify_DsnAndReply_SeverityAndReason(string status, string dsn, string text, string severity, string reason)
    {
        var result = BounceClassifier.Classify(Enum.Parse<DeliveryStatus>(status), Encoding.ASCII.GetBytes(dsn), Encoding.ASCII.GetBytes(text));

        Assert.Equal((Enum.Parse<BounceSeverity>(severity), Enum.Parse<BounceReason>(reason)), result);
    }
}
