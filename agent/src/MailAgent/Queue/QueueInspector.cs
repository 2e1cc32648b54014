using MailAgent.Postfix;

namespace MailAgent.Queue;

/// <summary>
/// Takes one snapshot: runs <c>postqueue -j</c> through <see cref="IPostfixCommands"/> and summarises
/// its output as it streams, within <see cref="QueueOptions.Timeout"/>. Used by the background
/// service and by <c>mailagent queue</c>.
/// </summary>
internal sealed class QueueInspector
{
    private readonly IPostfixCommands _commands;
    private readonly TimeProvider _time;
    private readonly TimeSpan _timeout;
    private readonly double[] _ageBuckets;
    private readonly int _topDomains;
    private readonly int _maxLineBytes;

    public QueueInspector(IPostfixCommands commands, QueueOptions options, TimeProvider time, int maxLineBytes = QueueOutputReader.DefaultMaxLineBytes)
    {
        _commands = commands;
        _time = time;
        _timeout = options.Timeout;
        _ageBuckets = options.AgeBucketBounds();
        _topDomains = options.TopDomains;
        _maxLineBytes = maxLineBytes;
    }

    /// <summary>
    /// Runs postqueue once. Failures and timeouts come back as a failed snapshot, not an exception;
    /// only cancellation through <paramref name="stoppingToken"/> throws.
    /// </summary>
    public async Task<QueueSnapshot> InspectAsync(CancellationToken stoppingToken)
    {
        var takenAt = _time.GetUtcNow();
        long started = _time.GetTimestamp();
        var summarizer = new QueueSummarizer(takenAt, _ageBuckets, _topDomains);
        using var timeout = new CancellationTokenSource(_timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token);
        try
        {
            var result = await _commands.ListQueueAsync(
                (output, token) => QueueOutputReader.ReadAsync(output, summarizer, _maxLineBytes, token), linked.Token);
            var duration = _time.GetElapsedTime(started);
            if (!result.Started)
                return QueueSnapshot.Failure(takenAt, duration, result.StandardError, timedOut: false);
            if (result.TimedOut)
                return QueueSnapshot.Failure(takenAt, duration, result.StandardError, timedOut: true);
            if (result.ExitCode != 0)
            {
                string detail = string.IsNullOrWhiteSpace(result.StandardError) ? "no message" : FirstLine(result.StandardError);
                return QueueSnapshot.Failure(takenAt, duration, $"postqueue exited with status {result.ExitCode}: {detail}", timedOut: false);
            }

            return QueueSnapshot.Success(takenAt, duration, summarizer.Build());
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            return QueueSnapshot.Failure(takenAt, _time.GetElapsedTime(started), $"postqueue did not finish within {_timeout.TotalSeconds:0.###} s and was killed", timedOut: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return QueueSnapshot.Failure(takenAt, _time.GetElapsedTime(started), e.Message, timedOut: false);
        }
    }

    private static string FirstLine(string text)
    {
        var line = text.AsSpan().Trim();
        int newline = line.IndexOfAny('\r', '\n');
        return (newline < 0 ? line : line[..newline]).ToString();
    }
}
