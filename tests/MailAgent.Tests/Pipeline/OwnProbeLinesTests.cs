using System.Text;
using MailAgent.Metrics;
using MailAgent.Pipeline;

namespace MailAgent.Tests.Pipeline;

/// <summary>The agent's own probe sessions (Health:ProbeSourceAddress) stay out of the counters, whichever line shape names them.</summary>
public sealed class OwnProbeLinesTests
{
    private const string Stamp = "Nov 27 23:52:35 mail ";

    [Theory]
    [InlineData("postfix/smtpd[1]: connect from localhost[127.0.0.2]")]
    [InlineData("postfix/smtpd[1]: disconnect from localhost[127.0.0.2] ehlo=1 starttls=1 quit=1 commands=3")]
    [InlineData("postfix/smtpd[1]: Anonymous TLS connection established from localhost[127.0.0.2]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)")]
    [InlineData("postfix/smtpd[1]: lost connection after EHLO from localhost[127.0.0.2]")]
    [InlineData("postfix/smtpd[1]: timeout after EHLO from localhost[127.0.0.2]")]
    [InlineData("postfix/smtpd[1]: NOQUEUE: reject: RCPT from localhost[127.0.0.2]: 554 5.7.1 <a@b>: Relay access denied; from=<> to=<a@b> proto=ESMTP helo=<x>")]
    [InlineData("postfix/smtpd[1]: warning: non-SMTP command from localhost[127.0.0.2]: GET / HTTP/1.1")]
    [InlineData("postfix/postscreen[1]: CONNECT from [127.0.0.2]:40000 to [127.0.0.1]:25")]
    public void Process_ProbeSessionLine_CountsNothing(string line)
    {
        var probed = Run(line, "127.0.0.2");
        var other = Run(line, "127.0.0.9");

        Assert.Equal(0, Counted(probed));
        Assert.True(Counted(other) > 0, "the same line from another client counts: the test can fail");
    }

    [Fact]
    public void Process_ClientOfAnotherAddress_Counts()
    {
        var stats = Run("postfix/smtpd[1]: connect from localhost[127.0.0.20]", "127.0.0.2");

        Assert.Equal(1, stats.SmtpdConnects.Values[0]);
    }

    private static LogStats Run(string line, string probeSource)
    {
        var processor = LogProcessor.Create(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero), 1000, TimeSpan.FromDays(1), probeSource: probeSource);
        processor.Process(Encoding.UTF8.GetBytes(Stamp + line));
        return processor.Stats;
    }

    // Everything but the line counts (which count every line read, probe or not).
    private static long Counted(LogStats stats) =>
        stats.Counters.Where(c => c != stats.Lines && c != stats.Unparsed).Sum(c => c.Values.Sum());
}
