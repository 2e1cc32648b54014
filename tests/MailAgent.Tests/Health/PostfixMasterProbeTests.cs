using System.Net.Sockets;
using MailAgent.Postfix;
using MailAgent.Tests.Queue;

namespace MailAgent.Tests.Health;

/// <summary>
/// The master daemon probe a non-root agent uses instead of 'postfix status' (root only): a connect to
/// QUEUE_DIRECTORY/public/showq, with the queue directory from a stand-in postconf.
/// </summary>
public sealed class PostfixMasterProbeTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mailagent-master-probe-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task ProbeMaster_SocketListening_Running()
    {
        var commands = Commands(out string showq);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(showq));
        listener.Listen();

        var probe = await commands.ProbeMasterAsync(CancellationToken.None);

        Assert.True(probe.Running, probe.Detail);
        Assert.Contains(showq, probe.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeMaster_SocketLeftByStoppedMaster_NotRunning()
    {
        var commands = Commands(out string showq);
        using (var gone = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            gone.Bind(new UnixDomainSocketEndPoint(showq));

        var probe = await commands.ProbeMasterAsync(CancellationToken.None);

        Assert.False(probe.Running, probe.Detail);
        Assert.Contains(showq, probe.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeMaster_NoSocket_NotRunning()
    {
        var commands = Commands(out string showq);

        var probe = await commands.ProbeMasterAsync(CancellationToken.None);

        Assert.False(probe.Running, probe.Detail);
        Assert.Contains(showq, probe.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeMaster_PostconfFails_UnknownWithItsError()
    {
        var postconf = StandInScript.Create(_dir.FullName, "echo 'postconf: fatal: open /etc/postfix/main.cf: Permission denied' >&2\nexit 1\n");
        var commands = new PostfixCommands(new PostfixOptions { PostconfPath = postconf });

        var probe = await commands.ProbeMasterAsync(CancellationToken.None);

        Assert.Null(probe.Running);
        Assert.Contains("Permission denied", probe.Detail, StringComparison.Ordinal);
    }

    private PostfixCommands Commands(out string showq)
    {
        string queue = Directory.CreateDirectory(Path.Combine(_dir.FullName, "spool")).FullName;
        Directory.CreateDirectory(Path.Combine(queue, "public"));
        showq = Path.Combine(queue, "public", "showq");
        var postconf = StandInScript.Create(_dir.FullName, $"[ \"$*\" = '-h queue_directory' ] || exit 2\necho '{queue}'\n");
        return new PostfixCommands(new PostfixOptions { PostconfPath = postconf });
    }
}
