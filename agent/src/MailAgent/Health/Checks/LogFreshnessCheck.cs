using MailAgent.LogTailing;
using MailAgent.Metrics;

namespace MailAgent.Health.Checks;

/// <summary>The log is being read (the tail keeps up) and Postfix keeps writing it.</summary>
internal sealed class LogFreshnessCheck(ITailStatus tail, LogStats stats, HealthOptions options, TimeProvider time) : IHealthCheck
{
    private long _lines = -1;
    private DateTimeOffset? _lastNewLine;

    public string Name => "log";

    public bool IsSlow => false;

    public Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken) => Task.FromResult(Evaluate());

    private HealthCheckResult Evaluate()
    {
        var now = time.GetUtcNow();
        if (!tail.Positioned)
            return HealthCheckResult.Unhealthy("the log tail is not positioned yet");
        if (tail.LastLoopUtc is { } loop && now - loop > options.LoopStallTimeout)
            return HealthCheckResult.Unhealthy($"the tail loop has not run for {Age(now - loop)}");
        if (tail.OpenProblem is { } problem)
            return OpenProblem(problem, now);

        long lines = stats.Lines.Values.Sum();
        if (lines != _lines)
        {
            if (_lines >= 0)
                _lastNewLine = now;
            _lines = lines;
        }

        // Before any new line arrived since start, the newest line's own time stands in.
        var newest = _lastNewLine;
        if (newest == null && !double.IsNaN(stats.LastLineTime))
            newest = DateTimeOffset.FromUnixTimeMilliseconds((long)(stats.LastLineTime * 1000));

        long lag = tail.LagBytes;
        if (lag >= options.LogLagUnhealthyBytes)
            return HealthCheckResult.Unhealthy($"the agent is {lag} bytes behind the log (limit {options.LogLagUnhealthyBytes})");
        if (newest is { } n && now - n >= options.LogStaleUnhealthy)
            return HealthCheckResult.Unhealthy($"no new log line for {Age(now - n)} (limit {Age(options.LogStaleUnhealthy)})");
        if (lag >= options.LogLagDegradedBytes)
            return HealthCheckResult.Degraded($"the agent is {lag} bytes behind the log (limit {options.LogLagDegradedBytes})");
        if (newest is { } d && now - d >= options.LogStaleDegraded)
            return HealthCheckResult.Degraded($"no new log line for {Age(now - d)} (limit {Age(options.LogStaleDegraded)})");
        return HealthCheckResult.Healthy(newest is { } h
            ? $"reading the log, newest line {Age(now - h)} ago, {lag} bytes behind"
            : $"reading the log (no line yet), {lag} bytes behind");
    }

    private HealthCheckResult OpenProblem(TailOpenProblem problem, DateTimeOffset now)
    {
        string age = Age(now - problem.SinceUtc);
        switch (problem.Kind)
        {
            case TailOpenFailure.PermissionDenied:
                return HealthCheckResult.Unhealthy(
                    $"cannot read the log {problem.Path}: permission denied ({FileAccessAdvice.Mode(problem.Path)}; the agent runs as {FileAccessAdvice.Identity()}) for {age}. "
                    + "Fix: let group adm read it (chgrp adm, chmod 0640; with Postfix's maillog_file, after every 'postfix logrotate' too, e.g. maillog_file_permissions = 0640 on Postfix 3.9+) "
                    + "and put the agent's user in group adm (usermod -aG adm mailagent)");
            case TailOpenFailure.Missing:
                string text = $"the log {problem.Path} does not exist (for {age}). Fix: set LogTailing:Path to Postfix's log (maillog_file, or syslog's mail log)";
                return now - problem.SinceUtc >= options.LogMissingUnhealthy
                    ? HealthCheckResult.Unhealthy(text + $"; unhealthy after {Age(options.LogMissingUnhealthy)}")
                    : HealthCheckResult.Degraded(text + $"; unhealthy after {Age(options.LogMissingUnhealthy)}");
            default:
                return HealthCheckResult.Unhealthy($"cannot open the log {problem.Path}: {problem.Message} (for {age})");
        }
    }

    internal static string Age(TimeSpan span) => span switch
    {
        { TotalSeconds: < 0 } => "0 s",
        { TotalMinutes: < 2 } => $"{span.TotalSeconds:0} s",
        { TotalHours: < 2 } => $"{span.TotalMinutes:0} min",
        _ => $"{span.TotalHours:0.#} h",
    };
}
