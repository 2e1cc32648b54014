using System.Runtime.InteropServices;
using System.Threading.Channels;
using MailControlPlane.Connections;
using MailControlPlane.Registry;
using MailControlPlane.Routing;
using MailControlPlane.Scoring;

namespace MailControlPlane.Hosting;

/// <summary>What one reload did.</summary>
internal sealed record FleetReloadResult(bool Applied, IReadOnlyList<string> Added, IReadOnlyList<string> Removed, IReadOnlyList<string> Errors);

/// <summary>
/// Adds and removes agents without a restart: when the configuration file changes (checked every
/// second) or on SIGHUP, the whole configuration is built and checked again; on any error the
/// running fleet is kept and the errors are logged. Otherwise the agents not listed any more are
/// disconnected and forgotten, and the new ones connected; every other agent, and its provider's
/// row, is left alone. Sections other than Agents take effect at the next restart.
/// </summary>
internal sealed class FleetReloader : BackgroundService
{
    private readonly IReadOnlyList<string> _args;
    private readonly string? _file;
    private readonly AgentRegistry _registry;
    private readonly AgentConnections _connections;
    private readonly RoutingTableWriter _writer;
    private readonly ProviderBoard _board;
    private readonly TimeProvider _time;
    private readonly TimeSpan _pollInterval;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _one = new(1, 1);
    private readonly Channel<bool> _hangups = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private (DateTime Written, long Length)? _stamp;
    private long _applied;
    private long _rejected;

    public FleetReloader(IReadOnlyList<string> args, AgentRegistry registry, AgentConnections connections, RoutingTableWriter writer,
        ProviderBoard board, TimeProvider time, TimeSpan pollInterval, ILogger<FleetReloader> logger)
    {
        _args = args;
        _registry = registry;
        _connections = connections;
        _writer = writer;
        _board = board;
        _time = time;
        _pollInterval = pollInterval;
        _logger = logger;
        ControlPlaneConfiguration.Build(args, out _file, out _);
        _stamp = Stamp();
    }

    /// <summary>Reloads that changed the fleet or found nothing to change.</summary>
    public long Applied => Interlocked.Read(ref _applied);

    /// <summary>Reloads refused because the new configuration had errors (the running one was kept).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var hangup = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            _hangups.Writer.TryWrite(true);
        });
        if (_file != null)
            Log.WatchingConfiguration(_logger, _file);
        while (!stoppingToken.IsCancellationRequested)
        {
            bool hup = false;
            using (var timer = new CancellationTokenSource(_pollInterval, _time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timer.Token))
            {
                try
                {
                    hup = await _hangups.Reader.WaitToReadAsync(linked.Token) && _hangups.Reader.TryRead(out _);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // Poll time.
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            var stamp = Stamp();
            if (!hup && stamp == _stamp)
                continue;
            _stamp = stamp;
            await ReloadAsync(hup ? "SIGHUP" : "the configuration file changed");
        }
    }

    /// <summary>Builds and checks the configuration again and applies its agents; keeps the running fleet on any error.</summary>
    public async Task<FleetReloadResult> ReloadAsync(string why)
    {
        await _one.WaitAsync();
        try
        {
            var config = ControlPlaneConfiguration.Build(_args, out _, out var errors);
            ControlPlaneSettings? next = null;
            if (errors.Count == 0)
            {
                errors.AddRange(ControlPlaneConfiguration.Validate(config, out var settings));
                next = settings;
            }

            if (errors.Count > 0 || next == null)
            {
                Interlocked.Increment(ref _rejected);
                Log.ReloadRejected(_logger, why, string.Join("; ", errors));
                return new FleetReloadResult(false, [], [], errors);
            }

            var before = _registry.ProviderNames.ToHashSet(StringComparer.Ordinal);
            _registry.Replace(next.Registry.Agents);
            _writer.SetAgentProviders(_registry.ProviderNames);
            var (added, removed) = await _connections.ApplyAsync(next.Registry.Agents);
            _board.Remove(before.Where(p => !_registry.ProviderNames.Contains(p, StringComparer.Ordinal)));
            Interlocked.Increment(ref _applied);
            Log.Reloaded(_logger, why, _registry.Agents.Count, added.Count == 0 ? "none" : string.Join(", ", added), removed.Count == 0 ? "none" : string.Join(", ", removed));
            return new FleetReloadResult(true, added, removed, []);
        }
        finally
        {
            _one.Release();
        }
    }

    private (DateTime, long)? Stamp()
    {
        if (_file == null)
            return null;
        var info = new FileInfo(_file);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : null;
    }

    public override void Dispose()
    {
        _one.Dispose();
        base.Dispose();
    }
}
