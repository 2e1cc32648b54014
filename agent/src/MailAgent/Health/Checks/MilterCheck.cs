using System.Net.Sockets;
using MailAgent.Metrics;
using MailAgent.Postfix;

namespace MailAgent.Health.Checks;

/// <summary>
/// The milters (OpenDKIM) accept connections, and messages get signed: DKIM signatures added
/// against messages queued (cleanup message-id lines) over the window. The milters are
/// <see cref="HealthOptions.MilterAddress"/>, or when that is empty Postfix's own smtpd_milters and
/// non_smtpd_milters, re-read every slow interval.
/// </summary>
internal sealed class MilterCheck(LogStats stats, HealthOptions options, TimeProvider time, IPostfixCommands? postfix = null) : IHealthCheck
{
    private readonly CounterWindow _window = new(options.OutcomeWindow);
    private IReadOnlyList<MilterAddress>? _fromPostfix;
    private DateTimeOffset _readAt;

    public string Name => "milter";

    public bool IsSlow => false;

    public async Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        var (addresses, problem) = await AddressesAsync(cancellationToken);
        if (problem != null)
            return HealthCheckResult.Unhealthy(problem);
        if (addresses.Count == 0)
            return HealthCheckResult.Healthy("no milter configured in Postfix (smtpd_milters, non_smtpd_milters are empty): nothing to check");

        foreach (var address in addresses)
        {
            var endPoint = address.EndPoint(options.QueueDirectory);
            try
            {
                using var socket = address.IsUnix
                    ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                    : new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(endPoint, cancellationToken);
            }
            catch (SocketException e)
            {
                string where = endPoint is UnixDomainSocketEndPoint u ? $" (socket {u})" : "";
                string fix = e.SocketErrorCode == SocketError.AccessDenied
                    ? "; fix: put the agent's user in the milter socket's group (Debian: usermod -aG opendkim mailagent)"
                    : "";
                return HealthCheckResult.Unhealthy($"OpenDKIM milter at {address}{where} refuses connections ({e.SocketErrorCode}){fix}");
            }
        }

        string names = string.Join(", ", addresses.Select(a => a.Text));
        var delta = _window.Add(time.GetUtcNow(), [stats.DkimSignatures.Values.Sum(), stats.CleanupProcessed.Values[0]]);
        if (delta == null || delta[1] < options.DkimMinMessages)
            return HealthCheckResult.Healthy($"OpenDKIM milter at {names} accepts connections; too few messages to judge signing");
        double ratio = Math.Round(Math.Min(1.0, (double)delta[0] / delta[1]), 4);
        string text = $"{delta[0]} DKIM signatures for {delta[1]} messages queued over the last {LogFreshnessCheck.Age(options.OutcomeWindow)}";
        return ratio < options.DkimSigningDegraded
            ? HealthCheckResult.Degraded($"milter reachable, but few messages signed: {text}", ratio)
            : HealthCheckResult.Healthy($"OpenDKIM milter at {names} accepts connections; {text}", ratio);
    }

    private async Task<(IReadOnlyList<MilterAddress> Addresses, string? Problem)> AddressesAsync(CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(options.MilterAddress))
        {
            var configured = new List<MilterAddress>();
            foreach (var text in MilterAddress.SplitList(options.MilterAddress))
            {
                if (!MilterAddress.TryParse(text, out var address))
                    return ([], $"Health:MilterAddress '{text}' is not a milter address (inet:host:port, unix:/path, local:/path or host:port)");
                configured.Add(address);
            }

            return (configured, null);
        }

        var now = time.GetUtcNow();
        if (_fromPostfix != null && now - _readAt < options.SlowInterval)
            return (_fromPostfix, null);
        if (postfix == null)
            return ([], "Health:MilterAddress is empty and Postfix cannot be asked for its milters");
        var run = await postfix.PostconfAsync(["-h", "-x", "smtpd_milters", "non_smtpd_milters"], cancellationToken);
        if (!run.Succeeded)
            return ([], $"cannot read Postfix's milters with 'postconf -h -x smtpd_milters non_smtpd_milters': {run.Output}");
        var found = new List<MilterAddress>();
        foreach (var text in MilterAddress.SplitList(run.StandardOutput).Distinct(StringComparer.Ordinal))
        {
            if (MilterAddress.TryParse(text, out var address))
                found.Add(address);
        }

        _fromPostfix = found;
        _readAt = now;
        return (found, null);
    }
}
