namespace MailControlPlane.Connections;

/// <summary>Jittered exponential backoff: the n-th consecutive failure waits between half and all of min × 2ⁿ, at most max.</summary>
internal sealed class Backoff(TimeSpan min, TimeSpan max, Random random)
{
    private int _failures;

    public TimeSpan Next()
    {
        double ceiling = Math.Min(max.TotalMilliseconds, min.TotalMilliseconds * Math.Pow(2, Math.Min(_failures, 30)));
        _failures++;
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + (random.NextDouble() * 0.5)));
    }

    public void Reset() => _failures = 0;
}
