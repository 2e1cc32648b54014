using MailAgent.Grpc;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Grpc;

public sealed class EventRingTests
{
    private static readonly FakeTimeProvider Time = new(new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero));

    private static DeliveryObserved Sent(int n) => new(DeliveryOutcomeKind.Sent, "postfix/smtp", "2.0.0", "mx.example.net", $"Q{n}");

    private static EventRing Filled(int capacity, int count)
    {
        var ring = new EventRing(capacity, Time);
        for (int i = 1; i <= count; i++)
            ring.Append(Sent(i));
        return ring;
    }

    [Fact]
    public void Append_Sequences_StartAtOneAndIncreaseByOne()
    {
        var ring = new EventRing(10, Time);

        var sequences = Enumerable.Range(1, 5).Select(i => ring.Append(Sent(i))).ToList();

        Assert.Equal([1UL, 2UL, 3UL, 4UL, 5UL], sequences);
        Assert.Equal(5UL, ring.LastSequence);
    }

    [Fact]
    public void ReadAfter_Zero_ReturnsAllInOrder()
    {
        var ring = Filled(10, 4);

        var read = ring.ReadAfter(0, 100);

        Assert.False(read.Lost);
        Assert.Equal([1UL, 2UL, 3UL, 4UL], read.Events.Select(e => e.Sequence));
        Assert.Equal(["Q1", "Q2", "Q3", "Q4"], read.Events.Select(e => ((DeliveryObserved)e.Body).QueueId));
    }

    [Fact]
    public void ReadAfter_LastSeen_ReturnsExactlyTheMissedOnes()
    {
        var ring = Filled(10, 3);
        var first = ring.ReadAfter(0, 100);
        ring.Append(Sent(4));
        ring.Append(Sent(5));

        var resumed = ring.ReadAfter(first.Events[^1].Sequence, 100);
        var again = ring.ReadAfter(resumed.Events[^1].Sequence, 100);

        Assert.Equal([4UL, 5UL], resumed.Events.Select(e => e.Sequence));
        Assert.False(resumed.Lost);
        Assert.Empty(again.Events);
    }

    [Fact]
    public void ReadAfter_Max_LimitsTheBatchAndKeepsOrder()
    {
        var ring = Filled(10, 7);

        var read = ring.ReadAfter(2, 3);

        Assert.Equal([3UL, 4UL, 5UL], read.Events.Select(e => e.Sequence));
    }

    [Fact]
    public void Append_BeyondCapacity_KeepsOnlyTheNewest()
    {
        var ring = Filled(5, 12);

        var read = ring.ReadAfter(7, 100);

        Assert.Equal(8UL, ring.OldestSequence);
        Assert.False(read.Lost);
        Assert.Equal([8UL, 9UL, 10UL, 11UL, 12UL], read.Events.Select(e => e.Sequence));
    }

    [Fact]
    public void ReadAfter_EventsFellOut_FlagsTheGapAndStartsAtOldest()
    {
        var ring = Filled(5, 12);

        var read = ring.ReadAfter(3, 100);

        Assert.True(read.Lost);
        Assert.Equal(4UL, read.FirstMissed);
        Assert.Equal(8UL, read.FirstAvailable);
        Assert.Equal([8UL, 9UL, 10UL, 11UL, 12UL], read.Events.Select(e => e.Sequence));
    }

    [Fact]
    public void ReadAfter_SequenceFromAnEarlierRun_FlagsLossAndStartsAtOldest()
    {
        var ring = Filled(5, 3);

        var read = ring.ReadAfter(500, 100);

        Assert.True(read.Lost);
        Assert.Equal(501UL, read.FirstMissed);
        Assert.Equal(1UL, read.FirstAvailable);
        Assert.Equal([1UL, 2UL, 3UL], read.Events.Select(e => e.Sequence));
    }

    [Fact]
    public void ReadAfter_EmptyRing_ReturnsNothingAndNoLoss()
    {
        var ring = new EventRing(5, Time);

        var read = ring.ReadAfter(0, 100);

        Assert.Empty(read.Events);
        Assert.False(read.Lost);
    }

    [Fact]
    public async Task WaitAsync_CompletesWhenANewerEventArrives()
    {
        var ring = Filled(5, 2);
        var wait = ring.WaitAsync(2, CancellationToken.None);
        Assert.False(wait.IsCompleted);

        ring.Append(Sent(3));

        await wait.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(ring.WaitAsync(2, CancellationToken.None).IsCompleted);
    }

    [Fact]
    public void Append_RecordsTheObservedTimeFromTheClock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        var ring = new EventRing(5, time);

        ring.Append(Sent(1));
        time.Advance(TimeSpan.FromSeconds(30));
        ring.Append(Sent(2));

        var read = ring.ReadAfter(0, 10);
        Assert.Equal(TimeSpan.FromSeconds(30), read.Events[1].ObservedAt - read.Events[0].ObservedAt);
    }

    [Theory]
    [InlineData("mx.example.net[192.0.2.1]:25", "mx.example.net")]
    [InlineData("none", "none")]
    [InlineData("local", "local")]
    public void RelayDomain_HostWithAddress_KeepsTheHostOnly(string relay, string expected)
    {
        var domain = DeliveryEventObserver.RelayDomain(System.Text.Encoding.ASCII.GetBytes(relay));

        Assert.Equal(expected, System.Text.Encoding.ASCII.GetString(domain));
    }
}

public sealed class EventRingWatchTests
{
    private static DeliveryObserved Sent(int n) => new(DeliveryOutcomeKind.Sent, "postfix/smtp", "2.0.0", "mx.example.net", $"Q{n}");

    [Fact]
    public async Task WatchAsync_GapThenLive_FlagsOnceAndYieldsEachEventOnce()
    {
        var ring = new EventRing(5, TimeProvider.System);
        for (int i = 1; i <= 8; i++)
            ring.Append(Sent(i));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var watch = ring.WatchAsync(1, 3, timeout.Token).GetAsyncEnumerator(timeout.Token);

        Assert.True(await watch.MoveNextAsync());
        var first = watch.Current;
        Assert.True(await watch.MoveNextAsync());
        var second = watch.Current;
        var waiting = watch.MoveNextAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        ring.Append(Sent(9));
        Assert.True(await waiting);
        var live = watch.Current;

        Assert.True(first.Lost);
        Assert.Equal(2UL, first.FirstMissed);
        Assert.Equal(4UL, first.FirstAvailable);
        Assert.Equal([4UL, 5UL, 6UL], first.Events.Select(e => e.Sequence));
        Assert.False(second.Lost);
        Assert.Equal([7UL, 8UL], second.Events.Select(e => e.Sequence));
        Assert.False(live.Lost);
        Assert.Equal([9UL], live.Events.Select(e => e.Sequence));
    }
}
