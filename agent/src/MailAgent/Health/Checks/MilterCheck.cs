using System.Net.Sockets;
using MailAgent.Metrics;

namespace MailAgent.Health.Checks;

/// <summary>
/// The OpenDKIM milter accepts connections, and messages get signed: DKIM signatures added
/// against messages queued (cleanup message-id lines) over the window.
/// </summary>
internal sealed class MilterCheck(LogStats stats, HealthOptions options, TimeProvider time) : IHealthCheck
{
    private readonly CounterWindow _window = new(options.OutcomeWindow);

    public string Name => "milter";

    public bool IsSlow => false;

    public async Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        if (!TcpEndpoint.TryParse(options.MilterAddress, out var host, out var port))
            return HealthCheckResult.Unhealthy($"Health:MilterAddress '{options.MilterAddress}' is not host:port");
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(host, port, cancellationToken);
        }
        catch (SocketException e)
        {
            return HealthCheckResult.Unhealthy($"OpenDKIM milter at {options.MilterAddress} refuses connections ({e.SocketErrorCode})");
        }

        var delta = _window.Add(time.GetUtcNow(), [stats.DkimSignatures.Values.Sum(), stats.CleanupProcessed.Values[0]]);
        if (delta == null || delta[1] < options.DkimMinMessages)
            return HealthCheckResult.Healthy($"OpenDKIM milter at {options.MilterAddress} accepts connections; too few messages to judge signing");
        double ratio = Math.Round(Math.Min(1.0, (double)delta[0] / delta[1]), 4);
        string text = $"{delta[0]} DKIM signatures for {delta[1]} messages queued over the last {LogFreshnessCheck.Age(options.OutcomeWindow)}";
        return ratio < options.DkimSigningDegraded
            ? HealthCheckResult.Degraded($"milter reachable, but few messages signed: {text}", ratio)
            : HealthCheckResult.Healthy($"OpenDKIM milter at {options.MilterAddress} accepts connections; {text}", ratio);
    }
}
