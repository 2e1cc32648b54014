using System.Threading.Channels;

namespace MailAgent.Certificates;

/// <summary>
/// Watches the certificate files (and, for symlinks, the directories they point into) and runs
/// the deployer when their content changes: file-system notifications wake it early, a slow poll
/// of the content catches what notifications miss, and a quiet period (debounce) lets certbot
/// finish changing its links first. Files equal to the last good set, or to files already
/// refused, are not deployed again.
/// </summary>
internal sealed class CertificateWatcher(CertificateDeployer deployer, CertificateOptions options, TimeProvider time, ILogger<CertificateWatcher> logger) : BackgroundService
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly List<FileSystemWatcher> _watchers = [];
    private HashSet<string> _watched = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        string? handled = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    handled = await CheckOnceAsync(handled, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException && e is not OutOfMemoryException)
                {
                    Log.WatcherFailed(logger, e);
                }

                await WaitForChangeAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var w in _watchers)
                w.Dispose();
        }
    }

    private async Task<string?> CheckOnceAsync(string? handled, CancellationToken cancellationToken)
    {
        var (location, problem) = await deployer.Locator.LocateAsync(cancellationToken);
        if (location == null)
        {
            if (handled != problem)
                Log.NothingToWatch(logger, problem!);
            return problem;
        }

        Watch(location);
        string hash = CertificateStore.ContentHash(location.AllFiles);
        if (hash == handled || hash == deployer.Store.LastGoodHash())
            return hash;
        var last = deployer.Store.LastOutcome();
        if (last != null && last.ContentHash == hash && last.Result is CertificateReloadResult.Refused or CertificateReloadResult.RolledBack)
            return hash;

        string files = string.Join(", ", location.AllFiles);
        Log.Changed(logger, files);
        await deployer.DeployAsync(handled == null ? "startup" : "watcher", cancellationToken);
        // A refusal or roll-back may have put the last good files back: that state is handled too.
        return CertificateStore.ContentHash(location.AllFiles);
    }

    private async Task WaitForChangeAsync(CancellationToken cancellationToken)
    {
        using var poll = new CancellationTokenSource(options.PollInterval, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, poll.Token);
        try
        {
            await _wake.Reader.ReadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (poll.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return;
        }

        // Quiet period: every further notification restarts it.
        while (true)
        {
            using var quiet = new CancellationTokenSource(options.Debounce, time);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, quiet.Token);
            try
            {
                await _wake.Reader.ReadAsync(both.Token);
            }
            catch (OperationCanceledException) when (quiet.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    // One watcher per directory holding a file or a symlink target; rebuilt when a renewal moves the targets.
    private void Watch(CertificateLocation location)
    {
        var directories = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in location.AllFiles)
        {
            if (Path.GetDirectoryName(file) is { Length: > 0 } d)
                directories.Add(d);
            var target = new FileInfo(file).LinkTarget == null ? null : new FileInfo(file).ResolveLinkTarget(returnFinalTarget: true);
            if (target != null && Path.GetDirectoryName(target.FullName) is { Length: > 0 } t)
                directories.Add(t);
        }

        directories.RemoveWhere(d => !Directory.Exists(d));
        if (directories.SetEquals(_watched))
            return;
        foreach (var w in _watchers)
            w.Dispose();
        _watchers.Clear();
        foreach (var directory in directories)
        {
            var watcher = new FileSystemWatcher(directory)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            watcher.Changed += (_, _) => _wake.Writer.TryWrite(true);
            watcher.Created += (_, _) => _wake.Writer.TryWrite(true);
            watcher.Deleted += (_, _) => _wake.Writer.TryWrite(true);
            watcher.Renamed += (_, _) => _wake.Writer.TryWrite(true);
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }

        _watched = directories;
    }
}
