using System.Text;
using System.Text.Json;
using MailAgent.Correlation;
using MailAgent.LogTailing;
using MailAgent.Metrics;
using MailAgent.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace MailAgent.Tests.LogTailing;

/// <summary>
/// A restart resumes from the checkpoint: counts, histograms and the correlator's followed
/// messages. Feeding a real log in chunks with a save-and-restore between chunks must give
/// exactly what one pass gives.
/// </summary>
public sealed class PipelineCheckpointTests : IDisposable
{
    private static readonly DateTimeOffset CorpusNow = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-checkpoint-").FullName;

    [Theory]
    [InlineData("real-postfix-3.7.log.gz", 8)]
    [InlineData("real-postfix-3.7-syslog.log.gz", 13)]
    public void SaveAndRestore_BetweenChunksOfARealLog_EqualsOnePass(string log, int chunks)
    {
        var lines = TestData.ReadLines(log).Select(Encoding.UTF8.GetBytes).ToArray();
        var once = NewProcessor();
        foreach (var line in lines)
            once.Process(line);

        var processor = NewProcessor();
        int size = (lines.Length / chunks) + 1;
        for (int c = 0; c < chunks; c++)
        {
            foreach (var line in lines.Skip(c * size).Take(size))
                processor.Process(line);
            processor = Restart(processor);
        }

        Assert.True(once.Correlator.Count > 0, "the log ends with messages in flight, or the test proves nothing");
        Assert.Equal(once.Correlator.Count, processor.Correlator.Count);
        Assert.Equal(Stats(once), Stats(processor));
    }

    // The torture test restarts at random lines, not at chunk boundaries: so does this, 300 times, with the
    // daemon's default probe source (the corpus has 900 lines of sessions from it).
    [Theory]
    [InlineData(null)]
    [InlineData("127.0.0.2")]
    public void SaveAndRestore_AtRandomLines_EqualsOnePass(string? probeSource)
    {
        var lines = TestData.ReadLines("real-postfix-3.7.log.gz").Select(Encoding.UTF8.GetBytes).ToArray();
        var once = NewProcessor(probeSource);
        foreach (var line in lines)
            once.Process(line);

        var rng = new Random(20261206);
        var restarts = Enumerable.Range(0, 300).Select(_ => rng.Next(lines.Length)).ToHashSet();
        var processor = NewProcessor(probeSource);
        for (int i = 0; i < lines.Length; i++)
        {
            processor.Process(lines[i]);
            if (restarts.Contains(i))
                processor = Restart(processor, probeSource);
        }

        Assert.Equal(once.Correlator.Count, processor.Correlator.Count);
        Assert.Equal(Stats(once), Stats(processor));
    }

    [Fact]
    public void Restore_StateOfAnotherLayout_IsRefused()
    {
        var processor = NewProcessor();
        processor.Process("Nov 28 00:00:01 mail postfix/smtpd[1]: 4FE0BDC995: client=localhost[127.0.0.1]"u8);
        var state = processor.CaptureState();
        state.Correlator!.Layout += "s";

        var fresh = NewProcessor();

        Assert.False(fresh.RestoreState(state));
        Assert.Equal(0, fresh.Correlator.Count);
    }

    [Fact]
    public void Restore_TruncatedState_IsRefused()
    {
        var processor = NewProcessor();
        processor.Process("Nov 28 00:00:01 mail postfix/smtpd[1]: 4FE0BDC995: client=localhost[127.0.0.1]"u8);
        var state = processor.CaptureState();
        state.Correlator!.Messages = state.Correlator.Messages[..^3];

        Assert.False(NewProcessor().RestoreState(state));
    }

    [Fact]
    public void Layout_EveryMessageField_IsSaved()
    {
        // One letter per field of MessageState: a new field without its line in Fields() fails here.
        var fields = typeof(MessageCorrelator).GetNestedType("MessageState", System.Reflection.BindingFlags.NonPublic)!
            .GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic);

        Assert.Equal(fields.Length, MessageCorrelator.Layout.Length);
    }

    // What a kill -9 and a start do: the checkpoint written to disk and read back into a new pipeline.
    private LogProcessor Restart(LogProcessor before, string? probeSource = null)
    {
        var checkpoint = new Checkpoint();
        new PipelineCheckpoint(before, "mail.log", NullLogger.Instance).Capture(checkpoint);
        string file = Path.Combine(_dir, "log-checkpoint.json");
        checkpoint.Save(file);

        var loaded = Checkpoint.Load(file)!;
        Assert.NotNull(loaded.Pipeline);
        var after = NewProcessor(probeSource);
        new PipelineCheckpoint(after, "mail.log", NullLogger.Instance).Restore(loaded);
        return after;
    }

    private static LogProcessor NewProcessor(string? probeSource = null) => LogProcessor.Create(CorpusNow, maxMessages: 200_000, maxAge: TimeSpan.FromDays(6), probeSource: probeSource);

    private static string Stats(LogProcessor processor)
    {
        var checkpoint = new Checkpoint();
        new LogStatsCheckpoint(processor.Stats).Capture(checkpoint);
        return JsonSerializer.Serialize(checkpoint, CheckpointJson.Default.Checkpoint);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
