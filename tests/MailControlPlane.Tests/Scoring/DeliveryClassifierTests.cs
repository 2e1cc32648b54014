using MailControlPlane.Scoring;

namespace MailControlPlane.Tests.Scoring;

public sealed class DeliveryClassifierTests
{
    [Theory]
    [InlineData("Deferred", "4.4.1", "Connection")]
    [InlineData("Deferred", "4.4.2", "Connection")]
    [InlineData("Deferred", "4.7.1", "Reputation")]
    [InlineData("Bounced", "5.7.1", "Reputation")]
    [InlineData("Bounced", "5.7.26", "Reputation")]
    [InlineData("Deferred", "4.7.5", "Tls")]
    [InlineData("Deferred", "4.7.4", "Tls")]
    [InlineData("Deferred", "4.3.0", "LocalTemporary")]
    [InlineData("Bounced", "5.1.1", "None")]
    [InlineData("Bounced", "5.2.2", "None")]
    [InlineData("Deferred", "4.2.2", "None")]
    [InlineData("Bounced", "5.4.4", "None")]
    [InlineData("Sent", "4.4.1", "None")]
    [InlineData("Sent", "2.0.0", "None")]
    [InlineData("Deferred", "", "None")]
    [InlineData("Deferred", "4.4", "None")]
    [InlineData("Deferred", "x.4.1", "None")]
    [InlineData("Deferred", "4.4.1.1", "None")]
    [InlineData("Deferred", " 4.4.1 ", "Connection")]
    public void Classify_Dsn_ServerFaultsOnly(string outcome, string dsn, string expected)
    {
        var fault = DeliveryClassifier.Classify(Enum.Parse<DeliveryOutcomeKind>(outcome), dsn);

        Assert.Equal(expected, fault.ToString());
    }
}
