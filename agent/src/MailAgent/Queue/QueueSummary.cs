using System.Collections.Immutable;

namespace MailAgent.Queue;

/// <summary>The five Postfix queues <c>postqueue -j</c> reports, in the order they are published.</summary>
internal enum PostfixQueue
{
    Active,
    Deferred,
    Hold,
    Incoming,
    Maildrop,
}

/// <summary>Label values and lookups for <see cref="PostfixQueue"/>.</summary>
internal static class PostfixQueues
{
    /// <summary>Postfix's own queue names, indexed by <see cref="PostfixQueue"/>; also the <c>queue</c> label values.</summary>
    public static ImmutableArray<string> Names { get; } = ["active", "deferred", "hold", "incoming", "maildrop"];

    public static int Count => Names.Length;

    public static string Name(this PostfixQueue queue) => Names[(int)queue];
}

/// <summary>One queue of a summary: what is in it and how old it is.</summary>
/// <param name="AgeBucketCounts">Messages per age bucket, not cumulative: one per bound of <see cref="QueueSummary.AgeBucketBounds"/>, then the +Inf bucket.</param>
/// <param name="AgeBucketSums">Sum of the ages (seconds) of the messages in each of those buckets.</param>
internal sealed record QueueStats(
    PostfixQueue Queue,
    long Messages,
    long Recipients,
    long Bytes,
    DateTimeOffset? OldestArrival,
    IReadOnlyList<long> AgeBucketCounts,
    IReadOnlyList<double> AgeBucketSums)
{
    public string Name => Queue.Name();

    public double AgeSumSeconds => AgeBucketSums.Sum();
}

/// <summary>Recipients of deferred messages for one destination domain.</summary>
internal readonly record struct DomainCount(string Domain, long Recipients);

/// <summary>
/// What one pass over <c>postqueue -j</c> added up to. Immutable; ages are relative to
/// <see cref="TakenAt"/>. Entries are not de-duplicated: a message moving between queues while
/// postqueue walks them may be counted twice or not at all, as in <c>postqueue -p</c>.
/// </summary>
internal sealed record QueueSummary(
    DateTimeOffset TakenAt,
    IReadOnlyList<QueueStats> Queues,
    IReadOnlyList<long> DeferredByReason,
    IReadOnlyList<DomainCount> TopDeferredDomains,
    long OtherDeferredDomainRecipients,
    IReadOnlyList<double> AgeBucketBounds,
    long Lines,
    long MalformedLines)
{
    public QueueStats this[PostfixQueue queue] => Queues[(int)queue];

    public long Messages => Queues.Sum(q => q.Messages);

    public long Bytes => Queues.Sum(q => q.Bytes);

    public long Deferred(DeferralReason reason) => DeferredByReason[(int)reason];

    /// <summary>Seconds between the oldest arrival in <paramref name="queue"/> and <see cref="TakenAt"/>; 0 when it is empty.</summary>
    public double OldestAgeSeconds(PostfixQueue queue) =>
        this[queue].OldestArrival is { } oldest ? Math.Max(0, (TakenAt - oldest).TotalSeconds) : 0;
}
