using System.Net.Sockets;
using System.Text;

namespace MailAgent.Health.Checks;

/// <summary>Each configured SMTP listener answers with a 220 banner and accepts EHLO.</summary>
internal sealed class SmtpBannerCheck(HealthOptions options) : IHealthCheck
{
    public string Name => "smtp";

    public bool IsSlow => false;

    public async Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        var endpoints = options.SmtpEndpointList();
        var failures = new List<string>();
        foreach (var endpoint in endpoints)
        {
            string? problem = await ProbeAsync(endpoint, cancellationToken, MailAgent.Probes.ProbeConnection.Parse(options.ProbeSourceAddress));
            if (problem != null)
                failures.Add($"{endpoint}: {problem}");
        }

        if (failures.Count == 0)
            return HealthCheckResult.Healthy($"{string.Join(", ", endpoints)} answer 220 and EHLO");
        return failures.Count == endpoints.Count
            ? HealthCheckResult.Unhealthy(string.Join("; ", failures))
            : HealthCheckResult.Degraded(string.Join("; ", failures));
    }

    /// <summary>Null when <paramref name="endpoint"/> answers 220 and EHLO, else what went wrong; the config applier verifies with it too.</summary>
    /// <remarks>Every session that got a banner ends with QUIT and waits for the 221, so Postfix logs a clean disconnect, never a lost connection.</remarks>
    public static async Task<string?> ProbeAsync(string endpoint, CancellationToken cancellationToken, System.Net.IPAddress? source = null)
    {
        if (!TcpEndpoint.TryParse(endpoint, out var host, out var port))
            return "not a host:port";
        try
        {
            using var client = await MailAgent.Probes.ProbeConnection.ConnectAsync(host, port, source, cancellationToken);
            await using var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.ASCII);
            string? problem = null;
            string banner = await ReadReplyAsync(reader, cancellationToken);
            if (!banner.StartsWith("220", StringComparison.Ordinal))
            {
                problem = $"banner was '{banner}', not 220";
            }
            else
            {
                await stream.WriteAsync("EHLO mailagent.health\r\n"u8.ToArray(), cancellationToken);
                string ehlo = await ReadReplyAsync(reader, cancellationToken);
                if (!ehlo.StartsWith("250", StringComparison.Ordinal))
                    problem = $"EHLO answered '{ehlo}'";
            }

            await stream.WriteAsync("QUIT\r\n"u8.ToArray(), cancellationToken);
            await ReadReplyAsync(reader, cancellationToken);
            return problem;
        }
        catch (SocketException e)
        {
            return $"cannot connect ({e.SocketErrorCode})";
        }
        catch (IOException e)
        {
            return $"connection failed ({e.Message})";
        }
    }

    // Reads a possibly multi-line reply ("250-…" … "250 …") and returns its last line.
    private static async Task<string> ReadReplyAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        for (int i = 0; i < 100; i++)
        {
            string? line = await reader.ReadLineAsync(cancellationToken);
            if (line == null)
                return "(connection closed)";
            if (line.Length < 4 || line[3] != '-')
                return line;
        }

        return "(reply too long)";
    }
}
