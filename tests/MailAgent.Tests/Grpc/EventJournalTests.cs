using MailAgent.Grpc;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Grpc;

public sealed class EventJournalTests : IDisposable
{
    private static readonly FakeTimeProvider Time = new(new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero));
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mailagent-journal-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static void Write(EventJournal journal, EventRing ring, int n)
    {
        for (int i = 0; i < n; i++)
        {
            var stored = ring.AppendEvent(new DeliveryObserved(DeliveryOutcomeKind.Sent, "postfix/smtp", "2.0.0", "mx", $"Q{i}"));
            var proto = AgentGrpcService.Map(stored);
            proto.RunId = ring.RunId;
            journal.Append(proto);
        }
    }

    [Fact]
    public void Restart_JournalHoldsEvents_RunAndSequencesContinue()
    {
        string run;
        using (var journal = new EventJournal(_dir.FullName))
        {
            var ring = new EventRing(100, Time, journal);
            run = ring.RunId;
            Write(journal, ring, 5);
        }

        using var again = new EventJournal(_dir.FullName);
        var restarted = new EventRing(100, Time, again);
        var read = restarted.ReadAfter(2, 100);

        Assert.Equal(run, restarted.RunId);
        Assert.False(read.Lost);
        Assert.Equal([3UL, 4UL, 5UL], read.Events.Select(e => e.Sequence));
        Assert.Equal("Q4", AgentGrpcService.Map(read.Events[^1]).Delivery.QueueId);
        Assert.Equal(6UL, restarted.Append(new HealthChanged("log", AgentHealthStatus.Healthy, "")));
    }

    [Fact]
    public void Restart_TornLastRecord_CutOffAndAppendable()
    {
        using (var journal = new EventJournal(_dir.FullName))
            Write(journal, new EventRing(100, Time, journal), 3);
        string path = Path.Combine(_dir.FullName, EventJournal.FileName);
        long whole = new FileInfo(path).Length;
        using (var f = new FileStream(path, FileMode.Append))
            f.Write([0x7f, 0x08, 0x01]); // a length prefix promising more than follows: killed mid-write

        using var again = new EventJournal(_dir.FullName);
        var ring = new EventRing(100, Time, again);
        Write(again, ring, 1);

        Assert.Equal(3, again.Restored.Count);
        Assert.True(new FileInfo(path).Length > whole);
        using var third = new EventJournal(_dir.FullName);
        Assert.Equal([1UL, 2UL, 3UL, 4UL], third.Restored.Select(e => e.Sequence));
    }

    [Fact]
    public void Append_PastMaxBytes_RotatesAndKeepsThePreviousFile()
    {
        using (var journal = new EventJournal(_dir.FullName, maxBytes: 300))
            Write(journal, new EventRing(100, Time, journal), 20);

        using var again = new EventJournal(_dir.FullName, maxBytes: 300);

        Assert.True(File.Exists(Path.Combine(_dir.FullName, EventJournal.FileName + ".1")));
        Assert.Equal(20UL, again.LastSequence);
        Assert.Equal(again.Restored.Select(e => e.Sequence).OrderBy(s => s), again.Restored.Select(e => e.Sequence));
        Assert.Equal(20UL, again.Restored[^1].Sequence);
    }
}
