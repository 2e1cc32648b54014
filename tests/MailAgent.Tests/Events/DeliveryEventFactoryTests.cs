using System.Text;
using MailAgent.Correlation;
using MailAgent.Events;
using MailAgent.LogParsing;

namespace MailAgent.Tests.Events;

public sealed class DeliveryEventFactoryTests
{
    private const string Key = "0123456789abcdef-secret";
    private const string Bounce = "Nov 27 23:55:01 mail-oregon postfix/smtp[1234]: 4FE0BDC995: to=<Bob.Smith@Bounce.Test>, relay=mx.bounce.test[192.0.2.1]:25, delay=1.5, delays=0.1/0.2/0.3/0.9, dsn=5.1.1, status=bounced (host mx.bounce.test[192.0.2.1] said: 550 5.1.1 <Bob.Smith@Bounce.Test>: Recipient address rejected (in reply to RCPT TO command))";

    private static readonly byte[] StateSecret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static DeliveryDetails? Run(EventsOptions options, params string[] lines) => RunWith(options, StateSecret, lines);

    private static DeliveryDetails? RunWith(EventsOptions options, byte[] secret, params string[] lines)
    {
        var factory = new DeliveryEventFactory(options, secret);
        var correlator = new MessageCorrelator(1000, TimeSpan.FromDays(1), _ => { });
        var clock = new LogClock(new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero));
        DeliveryDetails? last = null;
        foreach (var text in lines)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var p = new ParsedLine();
            LineParser.Parse(bytes, ref p);
            var c = correlator.Observe(ref p, clock.ToUnixSeconds(p.Timestamp));
            last = factory.Create(ref p, in c) ?? last;
        }

        return last;
    }

    private static EventsOptions WithKey()
    {
        var o = new EventsOptions { RecipientHashKey = Key };
        var errors = new List<string>();
        o.Validate(errors);
        Assert.Empty(errors);
        return o;
    }

    [Fact]
    public void Create_BounceAfterMessageId_KeyedByMessageIdWithoutAddress()
    {
        var d = Run(WithKey(),
            "Nov 27 23:55:00 mail-oregon postfix/cleanup[1]: 4FE0BDC995: message-id=<abc.123@client.example>",
            Bounce)!;

        Assert.Equal(DeliveryStatusKind.Bounced, d.Status);
        Assert.Equal("abc.123@client.example", d.MessageId);
        Assert.Equal("4FE0BDC995", d.QueueId);
        Assert.Equal("bounce.test", d.RecipientDomain);
        Assert.Equal("", d.Recipient);
        Assert.Equal(DeliveryEventFactory.Hmac(Encoding.UTF8.GetBytes(Key), "bob.smith@bounce.test"u8), d.RecipientHash);
        Assert.Equal((BounceSeverity.Hard, BounceReason.UnknownUser), (d.Severity, d.Reason));
        Assert.DoesNotContain("Bob.Smith", d.Reply, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("550 5.1.1 <<address>>: Recipient address rejected", d.Reply, StringComparison.Ordinal);
        Assert.Equal("mx.bounce.test[192.0.2.1]:25", d.Relay);
        Assert.Equal((1.5, 0.1, 0.2, 0.3, 0.9), (d.Delay, d.DelayBeforeQueueManager, d.DelayInQueueManager, d.DelayConnectionSetup, d.DelayTransmission));
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 23, 55, 1, TimeSpan.Zero), d.LoggedAt);
        Assert.Equal(1, d.Attempt);
        Assert.Equal(64, d.EventKey.Length);
    }

    [Fact]
    public void Create_EventKey_KeyedSoAGuessedAddressCannotBeConfirmed()
    {
        var other = Enumerable.Repeat((byte)7, 32).ToArray();
        var noKey = Run(new EventsOptions(), Bounce)!;

        // Replays: the same line and secret give the same key.
        Assert.Equal(noKey.EventKey, Run(new EventsOptions(), Bounce)!.EventKey);
        // Someone holding the log line (or guessing the address in it) but not the secret gets another key.
        Assert.NotEqual(noKey.EventKey, RunWith(new EventsOptions(), other, Bounce)!.EventKey);
        Assert.NotEqual(noKey.EventKey, Unkeyed(Bounce));
        // With a recipient hash key that key keys the event key too (the state secret is not used).
        Assert.Equal(Run(WithKey(), Bounce)!.EventKey, RunWith(WithKey(), other, Bounce)!.EventKey);
        Assert.NotEqual(noKey.EventKey, Run(WithKey(), Bounce)!.EventKey);
    }

    [Fact]
    public void EventKeySecret_LoadOrCreate_KeptAcrossCallsAndOwnerOnly()
    {
        var dir = Directory.CreateTempSubdirectory("mailagent-eventkey-");
        try
        {
            byte[] first = EventKeySecret.LoadOrCreate(dir.FullName);
            Assert.Equal(32, first.Length);
            Assert.Equal(first, EventKeySecret.LoadOrCreate(dir.FullName));
            Assert.Equal(first, EventKeySecret.TryRead(dir.FullName));
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir.FullName, EventKeySecret.FileName)));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string Unkeyed(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
    }

    [Fact]
    public void Create_NoKeyNoInclude_NoFormOfTheAddress()
    {
        var d = Run(new EventsOptions(), Bounce)!;

        Assert.Equal("", d.Recipient);
        Assert.Equal("", d.RecipientHash);
        Assert.Equal("bounce.test", d.RecipientDomain);
    }

    [Fact]
    public void Create_IncludeRecipients_AddressInClearAndReplyKept()
    {
        var d = Run(new EventsOptions { IncludeRecipients = true, RecipientHashKey = Key }, Bounce)!;

        Assert.Equal("Bob.Smith@Bounce.Test", d.Recipient);
        Assert.Equal("", d.RecipientHash);
        Assert.Contains("<Bob.Smith@Bounce.Test>", d.Reply, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_DeferredTwiceThenSent_AttemptsCount()
    {
        const string deferred = "Nov 27 23:5{0}:00 mail-oregon postfix/smtp[1]: 5AB0BDC995: to=<a@defer.test>, relay=none, delay={0}, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to x[192.0.2.1]:25: Connection refused)";
        var d = Run(WithKey(),
            string.Format(System.Globalization.CultureInfo.InvariantCulture, deferred, 1),
            string.Format(System.Globalization.CultureInfo.InvariantCulture, deferred, 2),
            "Nov 27 23:59:00 mail-oregon postfix/smtp[1]: 5AB0BDC995: to=<a@defer.test>, relay=mx[192.0.2.1]:25, delay=480, delays=0/470/5/5, dsn=2.0.0, status=sent (250 2.0.0 Ok)")!;

        Assert.Equal(DeliveryStatusKind.Delivered, d.Status);
        Assert.Equal(3, d.Attempt);
        Assert.Equal((BounceSeverity.None, BounceReason.None), (d.Severity, d.Reason));
    }

    [Fact]
    public void Create_QmgrExpired_OneEventForTheMessage()
    {
        var d = Run(WithKey(),
            "Nov 28 00:00:32 mail-oregon postfix/cleanup[1]: 36EA0DCA19: message-id=<exp@client.example>",
            "Nov 28 00:00:47 mail-oregon postfix/qmgr[2]: 36EA0DCA19: from=<billing@tazzi.com>, status=expired, returned to sender")!;

        Assert.Equal(DeliveryStatusKind.Expired, d.Status);
        Assert.Equal("exp@client.example", d.MessageId);
        Assert.Equal((BounceSeverity.Soft, BounceReason.Expired), (d.Severity, d.Reason));
        Assert.DoesNotContain("billing", d.Reply, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unknown user: \"nosuch99\"", "unknown user: \"<address>\"")]
    [InlineData("said: 550 <a.b@c.d>... no (x@y)", "said: 550 <<address>>... no (<address>)")]
    [InlineData("no address here", "no address here")]
    public void MaskAddresses_Text_AddressesReplaced(string text, string expected) =>
        Assert.Equal(expected, DeliveryEventFactory.MaskAddresses(text));

    [Fact]
    public void Validate_ShortKeyOrBoth_ErrorsNameTheKey()
    {
        var errors = new List<string>();
        new EventsOptions { RecipientHashKey = "short" }.Validate(errors);
        new EventsOptions { RecipientHashKey = Key, RecipientHashKeyFile = "/x" }.Validate(errors);
        new EventsOptions { RecipientHashKeyFile = "/nonexistent/key" }.Validate(errors);

        Assert.Collection(errors,
            e => Assert.StartsWith("Events:RecipientHashKey has 5 characters", e, StringComparison.Ordinal),
            e => Assert.Contains("both set", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Events:RecipientHashKeyFile = '/nonexistent/key' cannot be read", e, StringComparison.Ordinal));
    }
}
