namespace MailAgent.Health.Checks;

/// <summary>Counter samples over a sliding window: the change from the oldest sample still in the window to now.</summary>
internal sealed class CounterWindow(TimeSpan window)
{
    private readonly Queue<(DateTimeOffset At, long[] Values)> _samples = new();

    /// <summary>Adds a sample and returns the deltas since the window's start (null on the first sample).</summary>
    public long[]? Add(DateTimeOffset now, long[] values)
    {
        // Keep one sample at or before the window's start as the baseline.
        while (_samples.Count > 1 && _samples.ElementAt(1).At <= now - window)
            _samples.Dequeue();
        long[]? delta = null;
        if (_samples.TryPeek(out var baseline))
        {
            delta = new long[values.Length];
            for (int i = 0; i < values.Length; i++)
                delta[i] = Math.Max(0, values[i] - baseline.Values[i]);
        }

        _samples.Enqueue((now, values));
        return delta;
    }
}
