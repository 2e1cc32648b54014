using System.Threading.Channels;

namespace MailControlPlane.Scoring;

/// <summary>The latest verdict per provider, and a feed of the ones that changed for WatchProviders.</summary>
internal sealed class ProviderBoard
{
    private const int WatcherBuffer = 256;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ProviderAssessment> _latest = new(StringComparer.Ordinal);
    private readonly List<Channel<ProviderAssessment>> _watchers = [];

    public IReadOnlyList<ProviderAssessment> Latest()
    {
        lock (_lock)
            return _latest.Values.OrderBy(a => a.ProviderName, StringComparer.Ordinal).ToList();
    }

    /// <summary>Stores the verdicts; tells the watchers about those whose score, state or is_active changed.</summary>
    public void Update(IEnumerable<ProviderAssessment> assessments)
    {
        lock (_lock)
        {
            foreach (var a in assessments)
            {
                bool changed = !_latest.TryGetValue(a.ProviderName, out var before)
                    || before.Score != a.Score || before.State != a.State || before.IsActive != a.IsActive;
                _latest[a.ProviderName] = a;
                if (!changed)
                    continue;
                foreach (var w in _watchers)
                    w.Writer.TryWrite(a);
            }
        }
    }

    /// <summary>Forgets the providers no agent backs any more (a configuration reload removed them).</summary>
    public void Remove(IEnumerable<string> providerNames)
    {
        lock (_lock)
        {
            foreach (var name in providerNames)
                _latest.Remove(name);
        }
    }

    /// <summary>The current verdicts, then changes; a watcher that falls more than a buffer behind loses the oldest changes.</summary>
    public async IAsyncEnumerable<ProviderAssessment> WatchAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<ProviderAssessment>(new BoundedChannelOptions(WatcherBuffer) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        List<ProviderAssessment> current;
        lock (_lock)
        {
            current = _latest.Values.OrderBy(a => a.ProviderName, StringComparer.Ordinal).ToList();
            _watchers.Add(channel);
        }

        try
        {
            foreach (var a in current)
                yield return a;
            await foreach (var a in channel.Reader.ReadAllAsync(cancellationToken))
                yield return a;
        }
        finally
        {
            lock (_lock)
                _watchers.Remove(channel);
        }
    }
}
