using MailAgent.Config;
using MailAgent.Postfix;
using MailAgent.Tests.Postfix;

namespace MailAgent.Tests.Config;

public sealed class LogPathDefaultTests
{
    [Theory]
    [InlineData("/var/log/postfix.log\n", "/var/log/postfix.log")]
    [InlineData("\n", "/var/log/mail.log")]
    public async Task Resolve_MaillogFileSetOrEmpty_ItOrSyslogMailLog(string postconf, string expected)
    {
        var (path, _) = await LogPathDefault.ResolveAsync(Postconf(new PostfixResult(true, 0, postconf, "")), CancellationToken.None);

        Assert.Equal(expected, path);
    }

    [Fact]
    public async Task Resolve_PostconfFails_SyslogMailLogWithReason()
    {
        var (path, source) = await LogPathDefault.ResolveAsync(Postconf(new PostfixResult(false, -1, "", "cannot run 'postconf'")), CancellationToken.None);

        Assert.Equal("/var/log/mail.log", path);
        Assert.Contains("cannot run 'postconf'", source, StringComparison.Ordinal);
    }

    private static FakePostfixCommands Postconf(PostfixResult result) =>
        new() { Postconf = arguments => arguments is ["-h", "-x", "maillog_file"] ? result : throw new InvalidOperationException(string.Join(' ', arguments)) };
}
