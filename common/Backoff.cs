namespace MailAgent.Common;

/// <summary>
/// Jittered exponential backoff, the one retry policy of both daemons: the n-th consecutive failure
/// waits between half and all of min × 2ⁿ⁻¹, never less than min and never more than max.
/// </summary>
internal sealed class Backoff(TimeSpan min, TimeSpan max, Random random)
{
    private int _failures;

    /// <summary>Failures since the last <see cref="Reset"/>.</summary>
    public int Failures => _failures;

    /// <summary>The wait after one more failure.</summary>
    public TimeSpan Next()
    {
        _failures++;
        return Delay(_failures, min, max, random.NextDouble());
    }

    public void Reset() => _failures = 0;

    /// <summary>The wait after <paramref name="failures"/> failures in a row (1 or more), with <paramref name="random01"/> in [0, 1) as the jitter.</summary>
    public static TimeSpan Delay(int failures, TimeSpan min, TimeSpan max, double random01)
    {
        double ceiling = Math.Min(max.TotalMilliseconds, min.TotalMilliseconds * Math.Pow(2, Math.Clamp(failures - 1, 0, 30)));
        double wait = ceiling * (0.5 + (Math.Clamp(random01, 0, 1) * 0.5));
        return TimeSpan.FromMilliseconds(Math.Clamp(wait, min.TotalMilliseconds, Math.Max(min.TotalMilliseconds, max.TotalMilliseconds)));
    }
}
