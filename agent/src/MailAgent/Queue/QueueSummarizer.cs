using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace MailAgent.Queue;

/// <summary>
/// Adds up <c>postqueue -j</c> output one line at a time, with no I/O: per queue the messages,
/// recipients, bytes, oldest arrival and an age histogram; for the deferred queue the recipients by
/// <see cref="DeferralReason"/> and by destination domain (top N plus <c>other</c>).
/// </summary>
/// <remarks>
/// Memory does not grow with the queue: per line only scratch buffers as long as the line's longest
/// string, and the domain counts stop at <c>maxDomains</c> distinct domains (later new domains are
/// counted as <c>other</c>). A line is counted only once all of it has parsed; one that is not a JSON
/// object with a known <c>queue_name</c>, an integer <c>arrival_time</c> and <c>message_size</c> is
/// counted as malformed and skipped. Unknown members are skipped, whatever their shape.
/// The per-line methods are compiled optimized from their first call: a summary runs once per
/// interval and the first one at start-up, when tiered compilation has not promoted anything yet
/// (100,000 lines in a fresh process: 1.7 s at tier 0, 1.35 s so; warm, about 0.11 s).
/// </remarks>
internal sealed class QueueSummarizer
{
    public const int DefaultMaxDomains = 10_000;

    /// <summary>Longest domain kept as a label value (the DNS limit); longer ones count as <c>other</c>.</summary>
    private const int MaxDomainLength = 253;

    // Bounds that keep a hostile line from overflowing the sums or the date arithmetic.
    private const long MinArrival = 0;
    private const long MaxArrival = 253_402_300_799; // 9999-12-31
    private const long MaxMessageSize = 1L << 40;

    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 32 };

    private readonly DateTimeOffset _takenAt;
    private readonly double _nowSeconds;
    private readonly double[] _bounds;
    private readonly int _topDomains;
    private readonly int _maxDomains;
    private readonly QueueAccumulator[] _queues;
    private readonly long[] _reasons = new long[DeferralReasons.Count];
    private readonly Dictionary<string, long> _domains = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> _domainLookup;
    private long _domainOverflow;
    private long _lines;
    private long _malformed;

    // Scratch for the current line: its recipients are counted only once the whole line has parsed.
    private readonly List<PendingRecipient> _pending = [];
    private char[] _text = new char[256];
    private char[] _pendingDomains = new char[256];
    private int _pendingDomainsLength;

    public QueueSummarizer(DateTimeOffset takenAt, ReadOnlySpan<double> ageBucketBounds, int topDomains, int maxDomains = DefaultMaxDomains)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(topDomains);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDomains, 1);
        _takenAt = takenAt;
        _nowSeconds = takenAt.ToUnixTimeMilliseconds() / 1000.0;
        _bounds = ageBucketBounds.ToArray();
        _topDomains = topDomains;
        _maxDomains = maxDomains;
        _queues = new QueueAccumulator[PostfixQueues.Count];
        for (int i = 0; i < _queues.Length; i++)
            _queues[i] = new QueueAccumulator(_bounds.Length + 1);
        _domainLookup = _domains.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Lines seen, blank ones left out.</summary>
    public long Lines => _lines;

    public long MalformedLines => _malformed;

    /// <summary>Counts one line of <c>postqueue -j</c> (without its newline). Never throws.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddLine(ReadOnlySpan<byte> line)
    {
        line = line.Trim(" \t\r\n"u8);
        if (line.IsEmpty)
            return;
        _lines++;
        if (TryParse(line, out var entry))
            Commit(entry);
        else
            _malformed++;
    }

    /// <inheritdoc cref="AddLine(ReadOnlySpan{byte})"/>
    public void AddLine(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        AddLine(Encoding.UTF8.GetBytes(line));
    }

    /// <summary>Counts a line the reader gave up on because it exceeded its length limit.</summary>
    public void AddOversizedLine()
    {
        _lines++;
        _malformed++;
    }

    /// <summary>The totals so far, as an immutable summary.</summary>
    public QueueSummary Build()
    {
        QueueStats[] queues = [.. _queues.Select((q, i) => new QueueStats(
            (PostfixQueue)i,
            q.Messages,
            q.Recipients,
            q.Bytes,
            q.Messages == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(q.OldestArrival),
            q.AgeCounts.ToArray().AsReadOnly(),
            q.AgeSums.ToArray().AsReadOnly()))];

        DomainCount[] top = [.. _domains
            .OrderByDescending(d => d.Value)
            .ThenBy(d => d.Key, StringComparer.Ordinal)
            .Take(_topDomains)
            .Select(d => new DomainCount(d.Key, d.Value))];
        long counted = 0;
        foreach (var count in _domains.Values)
            counted += count;
        long other = _domainOverflow + counted - top.Sum(d => d.Recipients);

        return new QueueSummary(_takenAt, queues.AsReadOnly(), _reasons.ToArray().AsReadOnly(), top.AsReadOnly(), other, _bounds.ToArray().AsReadOnly(), _lines, _malformed);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryParse(ReadOnlySpan<byte> line, out Entry entry)
    {
        entry = default;
        _pending.Clear();
        _pendingDomainsLength = 0;
        int queue = -1;
        long arrival = 0;
        long size = 0;
        bool hasArrival = false;
        bool hasSize = false;
        int recipients = 0;
        try
        {
            var reader = new Utf8JsonReader(line, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("queue_name"u8))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.String || (queue = QueueIndex(ref reader)) < 0)
                        return false;
                }
                else if (reader.ValueTextEquals("arrival_time"u8))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out arrival) || arrival is < MinArrival or > MaxArrival)
                        return false;
                    hasArrival = true;
                }
                else if (reader.ValueTextEquals("message_size"u8))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out size) || size is < 0 or > MaxMessageSize)
                        return false;
                    hasSize = true;
                }
                else if (reader.ValueTextEquals("recipients"u8))
                {
                    if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                        return false;

                    // postqueue prints queue_name first; were it to come later, the details are kept until it is known.
                    bool keep = queue is < 0 or (int)PostfixQueue.Deferred;
                    while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                    {
                        if (!ReadRecipient(ref reader, keep))
                            return false;
                        recipients++;
                    }

                    if (reader.TokenType != JsonTokenType.EndArray)
                        return false;
                }
                else
                {
                    reader.Skip();
                }
            }

            // Anything after the object (a second value, garbage) makes Read throw or return a token.
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
                return false;
        }
        catch (JsonException)
        {
            return false;
        }

        if (queue < 0 || !hasArrival || !hasSize)
            return false;
        entry = new Entry(queue, arrival, size, recipients);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool ReadRecipient(ref Utf8JsonReader reader, bool keep)
    {
        int domainStart = -1;
        int domainLength = 0;
        var reason = DeferralReason.Other;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (keep && reader.ValueTextEquals("address"u8))
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                    return false;
                if (TryDecode(ref reader, out int length))
                    (domainStart, domainLength) = KeepDomain(_text.AsSpan(0, length));
            }
            else if (keep && reader.ValueTextEquals("delay_reason"u8))
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                    return false;
                if (TryDecode(ref reader, out int length))
                    reason = DeferralReasons.Classify(_text.AsSpan(0, length));
            }
            else
            {
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject)
            return false;
        if (keep)
            _pending.Add(new PendingRecipient(domainStart, domainLength, reason));
        return true;
    }

    /// <summary>Unescapes the current string into <see cref="_text"/>; false when it is not valid UTF-8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryDecode(ref Utf8JsonReader reader, out int length)
    {
        // Unescaped UTF-16 never needs more chars than the escaped UTF-8 has bytes.
        if (_text.Length < reader.ValueSpan.Length)
            _text = new char[Math.Max(reader.ValueSpan.Length, _text.Length * 2)];
        try
        {
            length = reader.CopyString(_text);
            return true;
        }
        catch (InvalidOperationException)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>Copies the lower-cased domain of <paramref name="address"/> to the line's scratch; (-1, 0) when it has none fit for a label.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private (int Start, int Length) KeepDomain(ReadOnlySpan<char> address)
    {
        int at = address.LastIndexOf('@');
        var domain = (at < 0 ? [] : address[(at + 1)..]).TrimEnd('.');
        if (domain.IsEmpty || domain.Length > MaxDomainLength)
            return (-1, 0);
        foreach (char c in domain)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c) || char.IsSurrogate(c))
                return (-1, 0);
        }

        if (_pendingDomains.Length - _pendingDomainsLength < domain.Length)
            Array.Resize(ref _pendingDomains, Math.Max(_pendingDomains.Length * 2, _pendingDomainsLength + domain.Length));
        int start = _pendingDomainsLength;
        var target = _pendingDomains.AsSpan(start, domain.Length);
        domain.ToLowerInvariant(target);
        _pendingDomainsLength += domain.Length;
        return (start, domain.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Commit(in Entry entry)
    {
        var queue = _queues[entry.Queue];
        queue.Messages++;
        queue.Recipients += entry.Recipients;
        queue.Bytes += entry.Size;
        queue.OldestArrival = Math.Min(queue.OldestArrival, entry.Arrival);
        double age = Math.Max(0, _nowSeconds - entry.Arrival);
        int bucket = 0;
        while (bucket < _bounds.Length && age > _bounds[bucket])
            bucket++;
        queue.AgeCounts[bucket]++;
        queue.AgeSums[bucket] += age;

        if (entry.Queue != (int)PostfixQueue.Deferred)
            return;
        foreach (var recipient in _pending)
        {
            _reasons[(int)recipient.Reason]++;
            CountDomain(recipient.DomainStart < 0 ? [] : _pendingDomains.AsSpan(recipient.DomainStart, recipient.DomainLength));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void CountDomain(ReadOnlySpan<char> domain)
    {
        if (domain.IsEmpty)
        {
            _domainOverflow++;
        }
        else if (_domainLookup.TryGetValue(domain, out long count))
        {
            _domainLookup[domain] = count + 1;
        }
        else if (_domains.Count < _maxDomains)
        {
            _domains.Add(domain.ToString(), 1);
        }
        else
        {
            _domainOverflow++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int QueueIndex(ref Utf8JsonReader reader)
    {
        for (int i = 0; i < PostfixQueues.Count; i++)
        {
            if (reader.ValueTextEquals(PostfixQueues.Names[i]))
                return i;
        }

        return -1;
    }

    private readonly record struct Entry(int Queue, long Arrival, long Size, int Recipients);

    private readonly record struct PendingRecipient(int DomainStart, int DomainLength, DeferralReason Reason);

    private sealed class QueueAccumulator(int buckets)
    {
        public long Messages;
        public long Recipients;
        public long Bytes;
        public long OldestArrival = long.MaxValue;
        public readonly long[] AgeCounts = new long[buckets];
        public readonly double[] AgeSums = new double[buckets];
    }
}
