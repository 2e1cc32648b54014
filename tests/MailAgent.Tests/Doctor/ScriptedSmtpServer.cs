using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace MailAgent.Tests.Doctor;

/// <summary>
/// A loopback SMTP listener that answers EHLO with the keywords it is given (before and after TLS),
/// does STARTTLS (or TLS at once) with a test certificate, and QUIT. Serves until disposed.
/// </summary>
internal sealed class ScriptedSmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly X509Certificate2 _certificate;
    private readonly bool _implicitTls;
    private readonly string[] _before;
    private readonly string[] _after;
    private readonly Task _loop;

    public ScriptedSmtpServer(X509Certificate2 certificate, bool implicitTls, string[] before, string[] after)
    {
        _certificate = certificate;
        _implicitTls = implicitTls;
        _before = before;
        _after = after;
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopped
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                Stream stream = client.GetStream();
                bool tls = false;
                if (_implicitTls)
                {
                    var ssl = new SslStream(stream);
                    await ssl.AuthenticateAsServerAsync(_certificate);
                    stream = ssl;
                    tls = true;
                }

                await WriteAsync(stream, "220 scripted ESMTP\r\n");
                while (await ReadLineAsync(stream) is { } line)
                {
                    string verb = line.Split(' ')[0].ToUpperInvariant();
                    if (verb == "EHLO")
                    {
                        var keywords = tls ? _after : _before;
                        var reply = new StringBuilder();
                        reply.Append(keywords.Length == 0 ? "250 scripted\r\n" : "250-scripted\r\n");
                        for (int i = 0; i < keywords.Length; i++)
                            reply.Append(i == keywords.Length - 1 ? "250 " : "250-").Append(keywords[i]).Append("\r\n");
                        await WriteAsync(stream, reply.ToString());
                    }
                    else if (verb == "STARTTLS" && !tls && _before.Contains("STARTTLS"))
                    {
                        await WriteAsync(stream, "220 2.0.0 Ready to start TLS\r\n");
                        var ssl = new SslStream(stream);
                        await ssl.AuthenticateAsServerAsync(_certificate);
                        stream = ssl;
                        tls = true;
                    }
                    else if (verb == "QUIT")
                    {
                        await WriteAsync(stream, "221 2.0.0 Bye\r\n");
                        return;
                    }
                    else
                    {
                        await WriteAsync(stream, "502 5.5.2 Error: command not recognized\r\n");
                    }
                }
            }
            catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
            {
                // the client hung up
            }
        }
    }

    private static async Task WriteAsync(Stream stream, string text) => await stream.WriteAsync(Encoding.ASCII.GetBytes(text));

    private static async Task<string?> ReadLineAsync(Stream stream)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one) == 0)
                return null;
            if (one[0] == '\n')
                return line.ToString().TrimEnd('\r');
            line.Append((char)one[0]);
        }
    }
}
