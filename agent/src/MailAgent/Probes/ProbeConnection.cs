using System.Net;
using System.Net.Sockets;

namespace MailAgent.Probes;

/// <summary>
/// Opens the agent's own SMTP and TLS probe connections. To a loopback destination they leave from
/// a dedicated address (Health:ProbeSourceAddress, 127.0.0.2 by default), which Postfix writes in
/// its "connect from host[127.0.0.2]" lines, so the log parser can leave the agent's own sessions out of
/// the client counters (postfix_smtpd_*). To any other destination the kernel picks the source as usual.
/// </summary>
internal static class ProbeConnection
{
    /// <summary>The default dedicated loopback source address (Health:ProbeSourceAddress); all of 127.0.0.0/8 is local on Linux.</summary>
    public const string DefaultSourceAddress = "127.0.0.2";

    public static async Task<TcpClient> ConnectAsync(string host, int port, IPAddress? source, CancellationToken cancellationToken)
    {
        var client = new TcpClient(source?.AddressFamily ?? AddressFamily.InterNetwork);
        try
        {
            if (source != null && IPAddress.TryParse(host, out var destination) && IPAddress.IsLoopback(destination)
                && destination.AddressFamily == source.AddressFamily)
            {
                client.Client.Bind(new IPEndPoint(source, 0));
            }
            else if (!IPAddress.TryParse(host, out _) || IPAddress.Parse(host).AddressFamily != client.Client.AddressFamily)
            {
                // A name or another family: a fresh dual-mode client, as before.
                client.Dispose();
                client = new TcpClient();
            }

            await client.ConnectAsync(host, port, cancellationToken);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>The configured source, or null when empty (probes then leave from whatever the kernel picks).</summary>
    public static IPAddress? Parse(string? text) =>
        string.IsNullOrWhiteSpace(text) ? null : IPAddress.Parse(text.Trim());
}
