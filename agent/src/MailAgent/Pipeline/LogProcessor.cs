using MailAgent.Correlation;
using MailAgent.LogParsing;
using MailAgent.LogTailing;
using MailAgent.Metrics;

namespace MailAgent.Pipeline;

/// <summary>Something that wants every understood line with its correlation (the replay summary, the event ring).</summary>
internal interface ILineObserver
{
    void Observe(ref ParsedLine line, in CorrelationResult correlation);
}

/// <summary>
/// parse → correlate → count, for one line at a time. Not thread-safe: one pipeline thread
/// owns it (the tailer in the daemon, the reader in replay).
/// </summary>
internal sealed class LogProcessor : ILineSink
{
    private const int ExpireEveryLines = 8192;
    private readonly LogClock _clock;
    private readonly ILineObserver? _observer;
    private int _sinceExpire;

    public LogProcessor(LogStats stats, MessageCorrelator correlator, LogClock clock, ILineObserver? observer = null)
    {
        Stats = stats;
        Correlator = correlator;
        _clock = clock;
        _observer = observer;
    }

    public LogStats Stats { get; }
    public MessageCorrelator Correlator { get; }

    public static LogProcessor Create(DateTimeOffset now, int maxMessages, TimeSpan maxAge, ILineObserver? observer = null)
    {
        var stats = new LogStats();
        var correlator = new MessageCorrelator(maxMessages, maxAge, reason => stats.Evictions.Values[(int)reason]++);
        return new LogProcessor(stats, correlator, new LogClock(now), observer);
    }

    public void Process(ReadOnlySpan<byte> line)
    {
        var p = new ParsedLine();
        LineParser.Parse(line, ref p);
        Stats.CountLine(ref p);
        var correlation = new CorrelationResult { Size = -1, Latency = double.NaN };
        if (p.Kind is not (EventKind.Unparsed or EventKind.Foreign))
        {
            double time = _clock.ToUnixSeconds(p.Timestamp);
            if (!double.IsNaN(time))
                Stats.LastLineTime = time;
            correlation = Correlator.Observe(ref p, time);
            Stats.Record(ref p, in correlation);
            if (++_sinceExpire >= ExpireEveryLines)
            {
                _sinceExpire = 0;
                if (!double.IsNaN(Stats.LastLineTime))
                    Correlator.Expire(Stats.LastLineTime);
            }
        }

        _observer?.Observe(ref p, in correlation);
    }

    void ILineSink.OnLine(ReadOnlySpan<byte> line) => Process(line);
}
