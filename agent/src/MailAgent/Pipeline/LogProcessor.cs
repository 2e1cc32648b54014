using MailAgent.Correlation;
using MailAgent.LogParsing;
using MailAgent.LogTailing;
using MailAgent.Metrics;

namespace MailAgent.Pipeline;

/// <summary>Something that wants every understood line with its correlation (the replay summary, the event ring).</summary>
internal interface ILineObserver
{
    /// <summary>Whether it reads <see cref="CorrelationResult.MessageId"/>: the correlator keeps a string per message only then.</summary>
    bool WantsMessageIds { get; }

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
    private readonly byte[] _probeClient;
    private readonly HeaderCache _headers = new();
    private int _sinceExpire;

    /// <param name="probeSource">The agent's probe source address (Health:ProbeSourceAddress): smtpd and postscreen lines of
    /// sessions from it are the agent's own probes and stay out of the client counters and correlation.</param>
    public LogProcessor(LogStats stats, MessageCorrelator correlator, LogClock clock, ILineObserver? observer = null, string? probeSource = null)
    {
        Stats = stats;
        Correlator = correlator;
        _clock = clock;
        _observer = observer;
        _probeClient = string.IsNullOrWhiteSpace(probeSource) ? [] : System.Text.Encoding.ASCII.GetBytes("[" + probeSource.Trim() + "]");
    }

    public LogStats Stats { get; }
    public MessageCorrelator Correlator { get; }

    public static LogProcessor Create(DateTimeOffset now, int maxMessages, TimeSpan maxAge, ILineObserver? observer = null, string? probeSource = null)
    {
        var stats = new LogStats();
        // Message-IDs are for delivery events, which only an observer makes.
        var correlator = new MessageCorrelator(maxMessages, maxAge, reason => stats.Evictions.Values[(int)reason]++, keepMessageIds: observer?.WantsMessageIds == true);
        return new LogProcessor(stats, correlator, new LogClock(now), observer, probeSource);
    }

    public void Process(ReadOnlySpan<byte> line)
    {
        var p = new ParsedLine();
        LineParser.Parse(line, ref p, _headers);
        Stats.CountLine(ref p);
        var correlation = new CorrelationResult { Size = -1, Latency = double.NaN };
        if (p.Kind is not (EventKind.Unparsed or EventKind.Foreign) && !IsOwnProbe(ref p))
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

    /// <summary>What the pipeline remembers between lines besides the counts: saved in the checkpoint with them.</summary>
    public PipelineState CaptureState() => new()
    {
        Correlator = Correlator.Capture(),
        ClockYear = _clock.State.Year,
        ClockLastMonth = _clock.State.LastMonth,
        SinceExpire = _sinceExpire,
    };

    /// <summary>Puts saved state back; false when the correlator's part could not be used (another version wrote it).</summary>
    public bool RestoreState(PipelineState state)
    {
        _clock.State = (state.ClockYear, state.ClockLastMonth);
        _sinceExpire = state.SinceExpire is >= 0 and < ExpireEveryLines ? state.SinceExpire : 0;
        return state.Correlator != null && Correlator.Restore(state.Correlator);
    }

    // "connect from localhost[127.0.0.2]", "disconnect from unknown[127.0.0.2] ehlo=1 quit=1 commands=2", TLS lines ...
    // Most smtpd lines are connect, disconnect and client=, whose client the parser has cut out: only that short
    // span is searched. Informational lines count nothing, so they are not searched at all; the rest (TLS, rejects,
    // lost connections, postscreen, warnings) are rare and searched whole, as before.
    private bool IsOwnProbe(ref ParsedLine p)
    {
        if (_probeClient.Length == 0 || p.Daemon is not (Daemon.Smtpd or Daemon.Postscreen) || p.Kind == EventKind.Informational)
            return false;
        var client = p.Client;
        if (client.IsEmpty)
            return p.Message.IndexOf(_probeClient) >= 0;
        // "name[address]": the probe's "[address]" can only be its end (a substring search costs ten times more).
        return client[^1] == ']' ? client.EndsWith(_probeClient) : client.IndexOf(_probeClient) >= 0;
    }

    void ILineSink.OnLine(ReadOnlySpan<byte> line) => Process(line);
}

/// <summary>The pipeline's memory between lines (see <see cref="LogProcessor.CaptureState"/>).</summary>
internal sealed class PipelineState
{
    public CorrelatorState? Correlator { get; set; }
    public int ClockYear { get; set; }
    public int ClockLastMonth { get; set; }
    public int SinceExpire { get; set; }
}
