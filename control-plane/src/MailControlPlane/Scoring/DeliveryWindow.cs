namespace MailControlPlane.Scoring;

/// <summary>Delivery counts over the window, as the score reads them.</summary>
internal readonly record struct DeliveryTotals(long Attempts, long ServerFailures, long Connection, long Reputation, long Tls, long LocalTemporary);

/// <summary>The freshest delivery evidence: when the last server failure happened, and how many attempts went well after it.</summary>
internal readonly record struct DeliveryEvidence(DateTimeOffset? LastFailureAt, long SuccessesSinceLastFailure);

/// <summary>
/// One provider's delivery attempts over a sliding window, counted in fixed time buckets: memory is
/// bounded by the number of buckets, not by traffic. Thread-safe (the watch streams record while the
/// evaluation loop reads).
/// </summary>
internal sealed class DeliveryWindow
{
    private readonly Lock _lock = new();
    private readonly long _bucketTicks;
    private readonly Bucket[] _buckets;
    private DateTimeOffset? _lastFailureAt;
    private long _successesSinceFailure;

    public DeliveryWindow(TimeSpan window, TimeSpan bucket)
    {
        _bucketTicks = bucket.Ticks;
        // One extra bucket: the current one is only partly inside the window.
        _buckets = new Bucket[(int)Math.Ceiling((double)window.Ticks / bucket.Ticks) + 1];
        for (int i = 0; i < _buckets.Length; i++)
            _buckets[i].Index = long.MinValue;
    }

    public int BucketCount => _buckets.Length;

    /// <summary>Counts an attempt at <paramref name="at"/>; one older than the window (seen from <paramref name="now"/>) is dropped, one in the future counts as now.</summary>
    public void Record(DateTimeOffset at, DateTimeOffset now, DeliveryFault fault)
    {
        long nowIndex = now.UtcTicks / _bucketTicks;
        long index = Math.Min(at.UtcTicks / _bucketTicks, nowIndex);
        if (index <= nowIndex - _buckets.Length)
            return;
        lock (_lock)
        {
            if (fault != DeliveryFault.None)
            {
                if (_lastFailureAt is not { } last || at >= last)
                {
                    _lastFailureAt = at;
                    _successesSinceFailure = 0;
                }
            }
            else if (_lastFailureAt is not { } last || at > last)
            {
                _successesSinceFailure++;
            }

            ref var b = ref _buckets[(int)(index % _buckets.Length)];
            if (b.Index != index)
            {
                if (b.Index > index)
                    return; // the slot already holds a newer bucket: this attempt fell out of the window meanwhile
                b = default;
                b.Index = index;
            }

            b.Attempts++;
            switch (fault)
            {
                case DeliveryFault.Connection: b.Connection++; break;
                case DeliveryFault.Reputation: b.Reputation++; break;
                case DeliveryFault.Tls: b.Tls++; break;
                case DeliveryFault.LocalTemporary: b.LocalTemporary++; break;
                case DeliveryFault.None: break;
            }
        }
    }

    /// <summary>The last server failure and the attempts that went well after it.</summary>
    public DeliveryEvidence Evidence()
    {
        lock (_lock)
            return new DeliveryEvidence(_lastFailureAt, _successesSinceFailure);
    }

    /// <summary>
    /// The totals of the buckets inside the window ending at <paramref name="now"/>; with <paramref name="after"/>, only the
    /// buckets after the one holding that moment (an outage that fresh evidence says is over no longer counts).
    /// </summary>
    public DeliveryTotals Totals(DateTimeOffset now, DateTimeOffset? after = null)
    {
        long nowIndex = now.UtcTicks / _bucketTicks;
        long oldest = nowIndex - _buckets.Length + 1;
        if (after is { } a)
            oldest = Math.Max(oldest, a.UtcTicks / _bucketTicks + 1);
        long attempts = 0, connection = 0, reputation = 0, tls = 0, local = 0;
        lock (_lock)
        {
            foreach (ref readonly var b in _buckets.AsSpan())
            {
                if (b.Index < oldest || b.Index > nowIndex)
                    continue;
                attempts += b.Attempts;
                connection += b.Connection;
                reputation += b.Reputation;
                tls += b.Tls;
                local += b.LocalTemporary;
            }
        }

        return new DeliveryTotals(attempts, connection + reputation + tls + local, connection, reputation, tls, local);
    }

    private struct Bucket
    {
        public long Index;
        public long Attempts;
        public long Connection;
        public long Reputation;
        public long Tls;
        public long LocalTemporary;
    }
}
