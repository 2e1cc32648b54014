namespace MailAgent.Hosting;

/// <summary>
/// Runs <see cref="StartupPages.Release()"/> once the host has started and once more <see cref="Again"/>
/// later, when the first slow health checks and the first queue listing have run and what only they
/// touched is no longer needed (Memory:ReleaseStartupPages; registered on Linux only).
/// </summary>
internal sealed class StartupPageRelease(
    IHostApplicationLifetime lifetime, TimeProvider time, ILogger<StartupPageRelease> logger, Func<StartupPages.Released>? release = null)
    : BackgroundService
{
    public static readonly TimeSpan Again = TimeSpan.FromMinutes(1);

    private readonly Func<StartupPages.Released> _release = release ?? StartupPages.Release;

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
        var released = _release();
        if (released.Problem is not null)
            Log.StartupPagesUnreadable(logger, released.Problem, stage);
        if (released.Failed > 0)
            Log.StartupPagesRefused(logger, released.Failed, stage);
        if (released.Mappings > 0)
            Log.StartupPagesReleased(logger, released.ResidentKiB, released.Mappings, stage);
    }
}
