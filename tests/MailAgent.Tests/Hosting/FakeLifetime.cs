using Microsoft.Extensions.Hosting;

namespace MailAgent.Tests.Hosting;

/// <summary>An <see cref="IHostApplicationLifetime"/> whose ApplicationStarted the test fires with <see cref="Start"/>.</summary>
internal sealed class FakeLifetime : IHostApplicationLifetime
{
    private readonly CancellationTokenSource _started = new();

    public CancellationToken ApplicationStarted => _started.Token;

    public CancellationToken ApplicationStopping => CancellationToken.None;

    public CancellationToken ApplicationStopped => CancellationToken.None;

    public void Start() => _started.Cancel();

    public void StopApplication()
    {
    }
}
