using System.Net.Sockets;
using MailAgent.Health;
using MailAgent.Health.Checks;
using MailAgent.Metrics;
using MailAgent.Postfix;
using MailAgent.Tests.Postfix;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Health;

public sealed class MilterCheckTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 3, 0, 0, TimeSpan.Zero));
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-milter-").FullName;

    [Theory]
    [InlineData("inet:127.0.0.1:8891", "127.0.0.1", 8891, null)]
    [InlineData("inet:localhost:8891", "localhost", 8891, null)]
    [InlineData("inet6:[::1]:8891", "::1", 8891, null)]
    [InlineData("127.0.0.1:8891", "127.0.0.1", 8891, null)]
    [InlineData("8891@127.0.0.1", "127.0.0.1", 8891, null)]
    [InlineData("unix:/run/opendkim/opendkim.sock", null, 0, "/run/opendkim/opendkim.sock")]
    [InlineData("local:/run/opendkim/opendkim.sock", null, 0, "/run/opendkim/opendkim.sock")]
    [InlineData("unix:/opendkim/opendkim.sock", null, 0, "/opendkim/opendkim.sock")]
    public void TryParse_EveryPostfixForm_Parsed(string text, string? host, int port, string? path)
    {
        Assert.True(MilterAddress.TryParse(text, out var address));
        Assert.Equal(host, address.Host);
        Assert.Equal(port, address.Port);
        Assert.Equal(path, address.SocketPath);
    }

    [Theory]
    [InlineData("nowhere:99999")]
    [InlineData("unix:")]
    [InlineData("inet:")]
    [InlineData("opendkim")]
    public void TryParse_NotAnAddress_False(string text) => Assert.False(MilterAddress.TryParse(text, out _));

    [Fact]
    public void SplitList_CommasSpacesAndBraces_Addresses() =>
        Assert.Equal(
            ["inet:127.0.0.1:8891", "unix:/run/a.sock", "local:/run/b.sock"],
            MilterAddress.SplitList("inet:127.0.0.1:8891, unix:/run/a.sock\n{ local:/run/b.sock, connect_timeout=10s, default_action=accept }"));

    [Fact]
    public async Task Run_NoSettingPostfixUnixMilterListening_HealthyThenUnhealthyWhenGone()
    {
        string path = Path.Combine(_dir, "opendkim.sock");
        var listener = Listen(path);
        var postfix = PostconfOutput($"unix:{path}\nunix:{path}\n");
        var check = new MilterCheck(new LogStats(), new HealthOptions(), _time, postfix);

        var healthy = await check.RunAsync(CancellationToken.None);
        listener.Dispose();
        var gone = await check.RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Contains($"unix:{path}", healthy.Reason, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Unhealthy, gone.Status);
        Assert.Contains("refuses connections", gone.Reason, StringComparison.Ordinal);
        Assert.Equal("postconf -h -x smtpd_milters non_smtpd_milters", postfix.Ran[^1]);
    }

    [Fact]
    public async Task Run_ChrootRelativeUnixPath_FoundUnderQueueDirectory()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "opendkim"));
        using var listener = Listen(Path.Combine(_dir, "opendkim", "opendkim.sock"));
        var check = new MilterCheck(new LogStats(), new HealthOptions { MilterAddress = "unix:/opendkim/opendkim.sock", QueueDirectory = _dir }, _time);

        Assert.Equal(HealthStatus.Healthy, (await check.RunAsync(CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Run_PostfixHasNoMilters_HealthyNothingToCheck()
    {
        var check = new MilterCheck(new LogStats(), new HealthOptions(), _time, PostconfOutput("\n\n"));

        var result = await check.RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Contains("no milter configured", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_PostconfFails_UnhealthyWithItsError()
    {
        var postfix = PostconfOutput("", new PostfixResult(true, 1, "", "postconf: fatal: open /etc/postfix/main.cf: Permission denied"));
        var check = new MilterCheck(new LogStats(), new HealthOptions(), _time, postfix);

        var result = await check.RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("Permission denied", result.Reason, StringComparison.Ordinal);
    }

    private static Socket Listen(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen(8);
        return socket;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static FakePostfixCommands PostconfOutput(string output, PostfixResult? result = null)
    {
        var fake = new FakePostfixCommands();
        fake.Postconf = _ => result ?? new PostfixResult(true, 0, output, "");
        return fake;
    }
}
