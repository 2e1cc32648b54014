using MailAgent.LogTailing;
using Microsoft.Extensions.Options;

namespace MailAgent.Health;

/// <summary>
/// Holds the host's start (and so systemd's READY=1, sent once the host has started) until the
/// listener is up, the tail is positioned and every check has run once, or the start-up timeout.
/// Registered after Kestrel, the tail and the health loop, so it starts last.
/// </summary>
internal sealed partial class HealthStartupGate(ITailStatus tail, TailService tailService, HealthMonitor monitor, IOptions<HealthOptions> options, TimeProvider time, ILogger<HealthStartupGate> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var timeout = options.Value.StartupTimeout;
        try
        {
            await Task.WhenAll(tailService.Started.Task, monitor.FirstRun).WaitAsync(timeout, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            LogStartupTimeout(logger, timeout, tail.Positioned, monitor.Current.FirstRunComplete);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning, Message = "Reporting ready after {Timeout} without everything in place (tail positioned: {Positioned}, first checks run: {Checked})")]
    private static partial void LogStartupTimeout(ILogger logger, TimeSpan timeout, bool positioned, bool @checked);
}
