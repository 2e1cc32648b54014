using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>Asks a loopback port whether an SMTP server (or any listener) answers there.</summary>
internal static class SmtpProbe
{
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Connects, reads the greeting and says QUIT (so the server logs a clean session rather than a lost
    /// connection). Returns the greeting line, or null while nothing answers.
    /// </summary>
    public static async Task<string?> TryReadGreetingAsync(int port, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(AttemptTimeout);
        try
        {
            using var client = new TcpClient(AddressFamily.InterNetwork);
            await client.ConnectAsync(IPAddress.Loopback, port, attempt.Token);
            await using var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
            var greeting = await reader.ReadLineAsync(attempt.Token);
            if (greeting is null)
            {
                return null;
            }

            await stream.WriteAsync("QUIT\r\n"u8.ToArray(), attempt.Token);
            _ = await reader.ReadLineAsync(attempt.Token);
            return greeting;
        }
        catch (Exception e) when (e is SocketException or IOException
                                   || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    /// <summary>True when a TCP connection to the port succeeds (for listeners that send no greeting).</summary>
    public static async Task<bool> CanConnectAsync(int port, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(AttemptTimeout);
        try
        {
            using var client = new TcpClient(AddressFamily.InterNetwork);
            await client.ConnectAsync(IPAddress.Loopback, port, attempt.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException
                                   || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }
}
