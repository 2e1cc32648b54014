using System.IO.Compression;
using System.Text;
using MailAgent.LogTailing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.LogTailing;

/// <summary>
/// The tailer on a private directory, one <see cref="LogTailer.Poll"/> at a time, with a fake
/// clock: no waiting. Every kind of rotation, while running and while stopped, and restarts
/// mid-file; each line written must reach the sink exactly once.
/// </summary>
public sealed class LogTailerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-tailer-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 0, 0, 0, TimeSpan.Zero));
    private readonly RecordingSink _sink = new();
    private readonly RecordingObserver _observer = new();
    private int _serial;

    private string LogPath => Path.Combine(_dir, "mail.log");

    [Fact]
    public void Poll_RestartMidFile_ResumesAtTheCheckpoint()
    {
        Write(10);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            WritePartial("Dec  6 00:00:00 mail postfix/qmgr[2]: half a li");
            tailer.Poll();
            tailer.SaveCheckpoint();
        }

        AppendRaw("ne\n");
        Write(10);
        using (var tailer = NewTailer())
            PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        Assert.Contains("Dec  6 00:00:00 mail postfix/qmgr[2]: half a line", _sink.Lines);
    }

    [Fact]
    public void Poll_RenameWhileRunning_ReadsTheRenamedFileThenTheNew()
    {
        Write(10);
        using var tailer = NewTailer();
        tailer.Poll();
        Write(5);
        RotateByRename(compress: false, delayCompress: false);
        Write(5);
        PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        Assert.Equal(1, _observer.Rotations.GetValueOrDefault("rename"));
    }

    [Fact]
    public void Poll_TwoRenamesBetweenRounds_ReadsTheFileInBetween()
    {
        Write(10);
        using var tailer = NewTailer();
        tailer.Poll();
        Write(5);
        RotateByRename(compress: false, delayCompress: false);
        Write(7); // the middle file: written and renamed before the tailer looks again
        RotateByRename(compress: false, delayCompress: false);
        Write(3);
        PollUntilQuiet(tailer);

        AssertEveryLineOnce();
    }

    [Fact]
    public void Poll_CopytruncateWhileRunning_ReadsTheUnreadTailFromTheCopy()
    {
        Write(10);
        using var tailer = NewTailer();
        tailer.Poll();
        Write(5);
        RotateByCopyTruncate();
        Write(5);
        PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        Assert.Equal(1, _observer.Rotations.GetValueOrDefault("truncate"));
    }

    [Fact]
    public void Poll_TwoCopytruncatesBetweenRounds_LosesNoSegment()
    {
        Write(10);
        using var tailer = NewTailer();
        tailer.Poll();
        RotateByCopyTruncate(); // nothing unread: the copy is exactly what was read
        Write(8);               // this segment is only in the second copy
        RotateByCopyTruncate();
        Write(4);
        PollUntilQuiet(tailer);

        AssertEveryLineOnce();
    }

    [Theory]
    [InlineData("rename")]
    [InlineData("rename+compress")]
    [InlineData("delaycompress")]
    [InlineData("dateext")]
    [InlineData("dateext+compress")]
    [InlineData("copytruncate")]
    [InlineData("copytruncate+compress")]
    public void Start_TwoRotationsWhileStopped_ReadsTheChainInOrder(string kind)
    {
        Write(10);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            tailer.SaveCheckpoint();
        }

        Write(5);  // unread tail of the checkpointed file
        Rotate(kind, 1);
        Write(7);  // the middle file
        Rotate(kind, 2);
        Write(3);  // the live file
        using (var tailer = NewTailer())
            PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
        Assert.Equal(2, _observer.Rotations.Values.Sum());
    }

    // The checkpoint written at a rename lists the renamed file (still draining) and the new live file
    // with nothing read from it. Killed before a later checkpoint, then that unread file is rotated away
    // and compressed while the agent is stopped: its inode is gone and it has no first bytes to match,
    // so only its place in the chain, right after the draining file, tells which copy it is (seen in the
    // torture test under load: 2,349 lines lost).
    [Theory]
    [InlineData("rename+compress")]
    [InlineData("copytruncate+compress")]
    [InlineData("rename")]
    public void Start_UnreadLiveFileRotatedAndCompressedWhileStopped_ReadsItFromItsPlaceInTheChain(string kind)
    {
        Write(10);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            RotateByRename(compress: false, delayCompress: false);
            File.Create(LogPath).Dispose(); // logrotate's 'create': the new log exists, empty
            tailer.Poll();
            tailer.SaveCheckpoint(); // [renamed file, still draining; the new live file at byte 0]
        }


        Write(5);  // into the live file nobody read
        RotateByRename(compress: true, delayCompress: false);
        Write(4);
        Rotate(kind, 2);
        Write(3);
        using (var tailer = NewTailer())
            PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
    }

    // The same after the renamed file's grace ended, so it is no longer being drained: the checkpoint
    // still names it (read to its end) as the anchor of the unread live file.
    [Theory]
    [InlineData("rename+compress")]
    [InlineData("copytruncate+compress")]
    public void Start_UnreadLiveFileAfterTheGraceRotatedWhileStopped_ReadsItFromItsPlaceInTheChain(string kind)
    {
        Write(10);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            RotateByRename(compress: false, delayCompress: false);
            File.Create(LogPath).Dispose();
            tailer.Poll();
            _time.Advance(TimeSpan.FromSeconds(10));
            tailer.Poll(); // the renamed file's grace ends: it is finished
            tailer.SaveCheckpoint();
        }

        Write(5);
        RotateByRename(compress: true, delayCompress: false);
        Write(4);
        Rotate(kind, 2);
        Write(3);
        using (var tailer = NewTailer())
            PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
    }

    // A copytruncate empties the live file long after an earlier rename's grace ended. The checkpoint then
    // lists the live file at byte 0, and it must not name that old renamed file as the unread file's
    // predecessor: a restart would read every rotated file after it again (torture test under load:
    // "finished mail.log.4, .3, .2, .1 first", 5,901 lines counted twice).
    [Fact]
    public void Start_UnreadLiveFileAfterCopyTruncate_DoesNotReadOlderRotationsAgain()
    {
        Write(10);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            RotateByRename(compress: false, delayCompress: false);
            File.Create(LogPath).Dispose();
            tailer.Poll();
            Write(5);
            tailer.Poll();
            _time.Advance(TimeSpan.FromSeconds(10));
            tailer.Poll(); // the renamed file's grace ends
            Write(3);
            tailer.Poll();
            RotateByCopyTruncate();
            tailer.Poll(); // truncation noticed, checkpointed at once with the live file at byte 0; then killed
        }

        Write(4);
        using (var tailer = NewTailer())
            PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
    }

    // The same, and the emptied live file is copied and truncated again while the agent is stopped: its
    // lines are in the newest copy, found after the copy read at the truncation, not lost.
    [Theory]
    [InlineData("copytruncate")]
    [InlineData("copytruncate+compress")]
    [InlineData("rename+compress")]
    public void Start_UnreadLiveFileAfterCopyTruncateRotatedWhileStopped_ReadsItFromTheChain(string kind)
    {
        Write(10);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            RotateByCopyTruncate();
            tailer.Poll(); // checkpoint: the live file at byte 0
        }

        Write(5);
        Rotate(kind, 1);
        Write(3);
        using (var tailer = NewTailer())
            PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
        Assert.Equal(2, _observer.Rotations.Values.Sum());
        // The label of a rotation found at a restart is read from inodes; after rename+compress the new live file
        // may have the freed inode of the renamed one (it does here), so only the copies' label is certain.
        if (kind.StartsWith("copytruncate", StringComparison.Ordinal))
            Assert.Equal(2, _observer.Rotations.GetValueOrDefault("truncate"));
    }

    // Two renames between two rounds: the file in between is read from the chain at once. Killed before
    // anything is read from the new live file, a restart must not read the file in between again.
    [Fact]
    public void Start_UnreadLiveFileAfterTwoRenamesInOneRound_DoesNotReadTheMiddleFileAgain()
    {
        Write(5);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            RotateByRename(compress: false, delayCompress: false);
            Write(4);
            RotateByRename(compress: false, delayCompress: false);
            File.Create(LogPath).Dispose();
            tailer.Poll(); // drains the first, reads the middle one from the chain, opens the empty live file
        }

        Write(3);
        using (var tailer = NewTailer())
            PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
    }

    // Restarted with nothing read from the live file, and killed again before reading it: the second
    // restart still knows the unread file's predecessor (and finds the file after a rotation).
    [Fact]
    public void Start_TwoRestartsBeforeReadingTheLiveFile_KeepsItsPredecessor()
    {
        Write(5);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            RotateByCopyTruncate();
            tailer.Poll();
        }

        using (var tailer = NewTailer())
            tailer.Poll(); // nothing new in the live file

        Write(4);
        RotateByRename(compress: true, delayCompress: false);
        Write(2);
        using (var tailer = NewTailer())
            PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
    }

    // The renamed file was still being written to when the agent was killed (the writer keeps its old
    // descriptor until it reopens). The restart finishes it; killed again before reading the live file, the
    // next restart must start that renamed file at its end, not at the offset of the first checkpoint.
    [Fact]
    public void Start_KilledTwiceWhileTheRenamedFileHadMoreLines_ReadsThemOnce()
    {
        Write(10);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            RotateByRename(compress: false, delayCompress: false);
            File.Create(LogPath).Dispose();
            tailer.Poll(); // checkpoint: [renamed file at its end so far, the live file at byte 0]
        }

        string renamed = LogPath + ".1";
        File.AppendAllText(renamed, "Dec  6 00:00:01 mail postfix/smtpd[1]: line " + ++_serial + "\n");
        using (var tailer = NewTailer())
            tailer.Poll(); // finishes the renamed file; the live one is still empty

        using (var tailer = NewTailer())
            tailer.Poll();

        Write(3);
        using (var tailer = NewTailer())
            PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
    }

    // A running agent that has not read a byte of the live file since the last copytruncate sees an empty
    // file after the next one too: the new copy after the last one read tells it that lines went by.
    [Theory]
    [InlineData("copytruncate")]
    [InlineData("copytruncate+compress")]
    public void Poll_CopyTruncateOfAFileNotReadYet_ReadsItsCopy(string kind)
    {
        Write(10);
        using var tailer = NewTailer();
        tailer.Poll();
        RotateByCopyTruncate();
        tailer.Poll(); // noticed; the live file is empty
        Write(5);
        Rotate(kind, 1); // before the agent read those five
        tailer.Poll();
        Write(3);
        PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
        Assert.Equal(2, _observer.Rotations.GetValueOrDefault("truncate"));
    }

    // The same twice in a row, and a quiet round in between (nothing rotated: nothing read).
    [Fact]
    public void Poll_TwoCopyTruncatesOfFilesNotReadYet_ReadsBothCopiesOnce()
    {
        Write(10);
        using var tailer = NewTailer();
        tailer.Poll();
        RotateByCopyTruncate();
        tailer.Poll();
        tailer.Poll();
        Write(5);
        RotateByCopyTruncate();
        Write(4);
        RotateByCopyTruncate(compress: true);
        tailer.Poll();
        tailer.Poll();
        Write(2);
        PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
        Assert.Equal(3, _observer.Rotations.GetValueOrDefault("truncate"));
    }

    // logrotate's copytruncate with compress gzips the copy right after the truncation, and gzip removes the
    // copy only once the .gz is complete: while both exist the .gz is partial, and only the copy may be read.
    [Fact]
    public void Poll_CopyTruncateNoticedWhileTheCopyIsBeingCompressed_ReadsTheCopyOnly()
    {
        Write(40);
        using var tailer = NewTailer();
        tailer.Poll();
        Write(25); // the unread tail, only in the copy after the truncation
        Shift();
        File.Copy(LogPath, LogPath + ".1");
        using (var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            stream.SetLength(0);
        byte[] compressed = GzipBytes(File.ReadAllBytes(LogPath + ".1"));
        File.WriteAllBytes(LogPath + ".1.gz", compressed[..(compressed.Length / 2)]); // gzip at work

        Assert.Equal([LogPath + ".1"], RotatedChain.List(LogPath).Select(f => f.Path));
        tailer.Poll();

        File.WriteAllBytes(LogPath + ".1.gz", compressed);
        File.Delete(LogPath + ".1");
        Write(3);
        PollUntilQuiet(tailer);

        AssertEveryLineOnce();
        AssertInOrder();
        Assert.Equal(1, _observer.Rotations.Values.Sum());
    }

    private static byte[] GzipBytes(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(data);
        return output.ToArray();
    }

    [Fact]
    public void Start_AfterRestart_RestoresTheRotationCounters()
    {
        Write(5);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            RotateByRename(compress: false, delayCompress: false);
            Write(2);
            PollUntilQuiet(tailer);
            RotateByCopyTruncate();
            Write(2);
            PollUntilQuiet(tailer);
            tailer.SaveCheckpoint();
        }

        _observer.Rotations.Clear();
        using (var tailer = NewTailer())
            tailer.Poll();

        Assert.Equal(1, _observer.Restored.GetValueOrDefault("rename"));
        Assert.Equal(1, _observer.Restored.GetValueOrDefault("truncate"));
        AssertEveryLineOnce();
    }

    [Fact]
    public void Start_CheckpointedFileDeleted_CountsAGap()
    {
        Write(5);
        using (var tailer = NewTailer())
        {
            tailer.Poll();
            tailer.SaveCheckpoint();
        }

        File.Delete(LogPath);
        Write(3);
        using (var tailer = NewTailer())
            PollUntilQuiet(tailer);

        Assert.Equal(1, _observer.Gaps.GetValueOrDefault("rotated_file_missing"));
        Assert.Equal(8, _sink.Lines.Count);
    }

    private LogTailer NewTailer() => new(
        new TailOptions { Path = LogPath, StateDirectory = Path.Combine(_dir, "state"), StartAt = TailStart.Beginning, RotatedFileGrace = TimeSpan.FromSeconds(5) },
        _sink,
        () => new Checkpoint(),
        _ => { },
        _observer,
        NullLogger.Instance,
        _time);

    // Rounds until nothing is read and renamed files are past their grace period.
    private void PollUntilQuiet(LogTailer tailer)
    {
        for (int i = 0; i < 10; i++)
        {
            tailer.Poll();
            _time.Advance(TimeSpan.FromSeconds(2));
        }
    }

    private void Rotate(string kind, int n)
    {
        switch (kind)
        {
            case "rename": RotateByRename(compress: false, delayCompress: false); break;
            case "rename+compress": RotateByRename(compress: true, delayCompress: false); break;
            case "delaycompress": RotateByRename(compress: false, delayCompress: true); break;
            case "dateext": RotateByDate(n, compress: false); break;
            case "dateext+compress": RotateByDate(n, compress: true); break;
            case "copytruncate": RotateByCopyTruncate(); break;
            case "copytruncate+compress": RotateByCopyTruncate(compress: true); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }

    // logrotate's numbered scheme: .1 → .2 (…), the log → .1, and with compress the new .1 gzipped at once;
    // with delaycompress the previous .1 is gzipped as it becomes .2.
    private void RotateByRename(bool compress, bool delayCompress)
    {
        Shift();
        if (delayCompress && File.Exists(LogPath + ".2"))
            Gzip(LogPath + ".2");
        File.Move(LogPath, LogPath + ".1");
        if (compress)
            Gzip(LogPath + ".1");
    }

    private void RotateByCopyTruncate(bool compress = false)
    {
        Shift();
        File.Copy(LogPath, LogPath + ".1");
        using (var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            stream.SetLength(0);
        if (compress)
            Gzip(LogPath + ".1");
    }

    private void RotateByDate(int day, bool compress)
    {
        string rotated = $"{LogPath}-202612{day:00}";
        File.Move(LogPath, rotated);
        if (compress)
            Gzip(rotated);
    }

    private void Shift()
    {
        for (int i = 9; i >= 1; i--)
        {
            foreach (string ext in new[] { "", ".gz" })
            {
                if (File.Exists($"{LogPath}.{i}{ext}"))
                    File.Move($"{LogPath}.{i}{ext}", $"{LogPath}.{i + 1}{ext}");
            }
        }
    }

    private static void Gzip(string path)
    {
        using (var input = File.OpenRead(path))
        using (var output = new GZipStream(File.Create(path + ".gz"), CompressionLevel.Fastest))
            input.CopyTo(output);
        File.Delete(path);
    }

    private void Write(int lines)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < lines; i++)
            sb.Append("Dec  6 00:00:01 mail postfix/smtpd[1]: line ").Append(++_serial).Append('\n');
        AppendRaw(sb.ToString());
    }

    private void WritePartial(string text) => AppendRaw(text);

    private void AppendRaw(string text)
    {
        using var stream = new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        stream.Write(Encoding.ASCII.GetBytes(text));
    }

    private void AssertEveryLineOnce()
    {
        var numbered = _sink.Lines.Where(l => l.Contains(": line ", StringComparison.Ordinal)).ToList();
        var duplicated = numbered.GroupBy(l => l).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        var lost = Enumerable.Range(1, _serial).Select(n => $"Dec  6 00:00:01 mail postfix/smtpd[1]: line {n}").Except(numbered).ToList();
        Assert.True(lost.Count == 0, "lost: " + string.Join(" | ", lost));
        Assert.True(duplicated.Count == 0, "duplicated: " + string.Join(" | ", duplicated));
    }

    private void AssertInOrder()
    {
        var numbers = _sink.Lines.Where(l => l.Contains(": line ", StringComparison.Ordinal)).Select(l => int.Parse(l[(l.LastIndexOf(' ') + 1)..])).ToList();
        Assert.Equal(numbers.Order(), numbers);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class RecordingSink : ILineSink
    {
        public List<string> Lines { get; } = new();

        public void OnLine(ReadOnlySpan<byte> line) => Lines.Add(Encoding.ASCII.GetString(line));
    }

    private sealed class RecordingObserver : ITailObserver
    {
        public Dictionary<string, long> Rotations { get; } = new();
        public Dictionary<string, long> Gaps { get; } = new();
        public Dictionary<string, long> Restored { get; } = new();

        public void Rotated(string kind) => Rotations[kind] = Rotations.GetValueOrDefault(kind) + 1;

        public void Gap(string reason, long bytes) => Gaps[reason] = Gaps.GetValueOrDefault(reason) + 1;

        public void Lag(long bytes)
        {
        }

        void ITailObserver.Restored(IReadOnlyDictionary<string, long> rotations, IReadOnlyDictionary<string, long> gaps)
        {
            foreach (var (k, v) in rotations)
                Restored[k] = v;
        }
    }
}
