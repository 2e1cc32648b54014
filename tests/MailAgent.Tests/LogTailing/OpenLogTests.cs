using System.Text;
using MailAgent.LogTailing;

namespace MailAgent.Tests.LogTailing;

public sealed class OpenLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-openlog-").FullName;

    private string LogPath => Path.Combine(_dir, "mail.log");

    // copytruncate can empty and refill the file between the read and a second look at its first bytes.
    // The first bytes remembered must be those the lines were read from, or the truncation goes unnoticed
    // and the copy holding the unread tail is not recognised (torture test under load: lines lost).
    [Fact]
    public void ReadAvailable_FileTruncatedAndRewrittenDuringTheRead_RemembersTheBytesItRead()
    {
        byte[] before = Encoding.ASCII.GetBytes("Dec  6 00:00:01 mail postfix/smtpd[1]: first file, line 1\n");
        File.WriteAllBytes(LogPath, before);
        using var log = OpenLog.TryOpen(LogPath)!;
        var sink = new TruncatingSink(LogPath, "Dec  6 00:00:02 mail postfix/smtpd[2]: after copytruncate\n");

        log.ReadAvailable(sink);

        Assert.Equal(1, sink.Lines);
        Assert.Equal(OpenLog.Fnv(before), log.RememberedPrefixHash(before.Length));
        Assert.True(log.WasTruncated(), "the first bytes on disk are no longer those read");
    }

    [Fact]
    public void ReadAvailable_StartedPastTheFirstBytes_RemembersThemFromTheFile()
    {
        byte[] content = Encoding.ASCII.GetBytes("line one\nline two\nline three\n");
        File.WriteAllBytes(LogPath, content);
        using var log = OpenLog.TryOpen(LogPath)!;
        log.SeekTo(9);

        log.ReadAvailable(new TruncatingSink(null, ""));

        Assert.Equal(OpenLog.Fnv(content), log.RememberedPrefixHash(content.Length));
        Assert.False(log.WasTruncated());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // On its first line, empties the file and writes other content into it (as copytruncate and the next write would).
    private sealed class TruncatingSink(string? path, string replacement) : ILineSink
    {
        public int Lines { get; private set; }

        public void OnLine(ReadOnlySpan<byte> line)
        {
            if (Lines++ == 0 && path != null)
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
                stream.SetLength(0);
                stream.Write(Encoding.ASCII.GetBytes(replacement));
            }
        }
    }
}
