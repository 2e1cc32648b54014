namespace MailAgent.Hosting;

/// <summary>
/// Runs <see cref="StartupPages.Release(Action{long, int})"/> once the host has started and once more <see cref="Again"/>
/// later, when the first slow health checks and the first queue listing have run and what only they
/// touched is no longer needed (Memory:ReleaseStartupPages; registered on Linux only).
/// </summary>
internal sealed class StartupPageRelease(
    IHostApplicationLifetime lifetime, TimeProvider time, ILogger<StartupPageRelease> logger, Func<Action<long, int>, StartupPages.Released>? release = null)
    : BackgroundService
{
    public static readonly TimeSpan Again = TimeSpan.FromMinutes(1);

    private readonly Func<Action<long, int>, StartupPages.Released> _release = release ?? (advising => StartupPages.Release(advising));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetResult()))
            await started.Task.ConfigureAwait(false);
        if (stoppingToken.IsCancellationRequested)
            return;
        Run("start-up");
        try
        {
            await Task.Delay(Again, time, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        Run("the first minute");
    }

    private void Run(string stage)
    {
        // The line goes out before the pages do (see StartupPages.Release).
        var released = _release((kib, mappings) => Log.StartupPagesReleasing(logger, kib, mappings, stage));
        if (released.Problem is not null)
            Log.StartupPagesUnreadable(logger, released.Problem, stage);
        if (released.Failed > 0)
            Log.StartupPagesRefused(logger, released.Failed, stage);
    }
}
