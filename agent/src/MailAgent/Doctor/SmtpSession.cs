using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace MailAgent.Doctor;

/// <summary>What an SMTP listener offered: EHLO keywords before and after TLS, or why the dialogue stopped.</summary>
internal sealed record SmtpCapabilities(int Port, bool ImplicitTls, bool Connected, IReadOnlyList<string> BeforeTls, IReadOnlyList<string>? AfterTls, string? Problem)
{
    public bool OffersStartTls => BeforeTls.Any(k => k.Equals("STARTTLS", StringComparison.OrdinalIgnoreCase));

    public static bool HasAuth(IReadOnlyList<string>? keywords) =>
        keywords != null && keywords.Any(k => k.StartsWith("AUTH", StringComparison.OrdinalIgnoreCase) && (k.Length == 4 || k[4] is ' ' or '='));

    public string Describe() =>
        (ImplicitTls ? $"{Port} (TLS at once)" : $"{Port}") + ": " +
        (Problem ?? $"EHLO offers [{string.Join(", ", BeforeTls)}]" + (AfterTls == null ? "" : $"; after TLS [{string.Join(", ", AfterTls)}]"));
}

/// <summary>
/// One SMTP dialogue for the doctor: banner, EHLO, STARTTLS when offered (or TLS at once), EHLO
/// again, QUIT. Accepts any certificate (the certificate item judges it). Bounded in time, line
/// length and line count.
/// </summary>
internal static class SmtpSession
{
    private const int MaxLineLength = 2048;
    private const int MaxReplyLines = 100;

    public static async Task<SmtpCapabilities> ProbeAsync(string host, int port, bool implicitTls, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var token = deadline.Token;
        IReadOnlyList<string> before = [];
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(host, port, token);
            Stream stream = client.GetStream();
            SslStream? tls = null;
            try
            {
                if (implicitTls)
                    stream = tls = await StartTlsAsync(stream, host, token);
                var banner = await ReadReplyAsync(stream, token);
                if (!banner[^1].StartsWith("220", StringComparison.Ordinal))
                    return new(port, implicitTls, true, [], null, $"banner '{banner[^1]}', not 220");
                var ehlo = await CommandAsync(stream, "EHLO mailagent.doctor", token);
                if (!ehlo[^1].StartsWith("250", StringComparison.Ordinal))
                    return new(port, implicitTls, true, [], null, $"EHLO answered '{ehlo[^1]}'");
                if (implicitTls)
                {
                    await QuitAsync(stream, token);
                    return new(port, true, true, [], Keywords(ehlo), null);
                }

                before = Keywords(ehlo);
                if (!before.Any(k => k.Equals("STARTTLS", StringComparison.OrdinalIgnoreCase)))
                {
                    await QuitAsync(stream, token);
                    return new(port, false, true, before, null, null);
                }

                var ready = await CommandAsync(stream, "STARTTLS", token);
                if (!ready[^1].StartsWith("220", StringComparison.Ordinal))
                    return new(port, false, true, before, null, $"STARTTLS answered '{ready[^1]}'");
                stream = tls = await StartTlsAsync(stream, host, token);
                var again = await CommandAsync(stream, "EHLO mailagent.doctor", token);
                await QuitAsync(stream, token);
                return new(port, false, true, before, Keywords(again), null);
            }
            finally
            {
                if (tls != null)
                    await tls.DisposeAsync();
            }
        }
        catch (SocketException e)
        {
            return new(port, implicitTls, false, [], null, $"cannot connect to {host}:{port} ({e.SocketErrorCode})");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(port, implicitTls, true, before, null, $"no complete answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (e is IOException or AuthenticationException or InvalidDataException)
        {
            return new(port, implicitTls, true, before, null, $"the dialogue broke off ({e.Message})");
        }
    }

    /// <summary>
    /// From <paramref name="source"/> (an address outside mynetworks), asks to relay to a foreign
    /// <paramref name="recipient"/>: banner, EHLO, MAIL FROM, RCPT TO, then RSET and QUIT without DATA,
    /// so nothing is ever sent. Returns the RCPT reply, or why the dialogue stopped (Reply null).
    /// </summary>
    public static async Task<(string? Reply, string Transcript)> RelayProbeAsync(
        string host, int port, System.Net.IPAddress source, string recipient, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var token = deadline.Token;
        var transcript = new StringBuilder();
        try
        {
            using var client = new TcpClient(source.AddressFamily);
            client.Client.Bind(new System.Net.IPEndPoint(source, 0));
            await client.ConnectAsync(host, port, token);
            Stream stream = client.GetStream();
            transcript.Append(CultureInfo.InvariantCulture, $"from {source} to {host}:{port}: ");
            var banner = await ReadReplyAsync(stream, token);
            transcript.Append(banner[^1]);
            foreach (string command in new[] { "EHLO mailagent.doctor", "MAIL FROM:<doctor-relay-probe@mailagent.invalid>", $"RCPT TO:<{recipient}>" })
            {
                var reply = await CommandAsync(stream, command, token);
                transcript.Append(CultureInfo.InvariantCulture, $" | {command} → {reply[^1]}");
                if (command.StartsWith("RCPT", StringComparison.Ordinal))
                {
                    await CommandAsync(stream, "RSET", token);
                    await QuitAsync(stream, token);
                    return (reply[^1], transcript.ToString());
                }

                if (!reply[^1].StartsWith('2'))
                    return (null, transcript.ToString());
            }

            return (null, transcript.ToString());
        }
        catch (SocketException e)
        {
            return (null, $"cannot connect from {source} to {host}:{port} ({e.SocketErrorCode})");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, transcript + $" (no complete answer within {timeout.TotalSeconds:0.#} s)");
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            return (null, transcript + $" (the dialogue broke off: {e.Message})");
        }
    }

    /// <summary>
    /// Submission login check: banner, EHLO, STARTTLS, EHLO, AUTH PLAIN with the probe credential,
    /// QUIT. Returns the AUTH reply, or why the dialogue stopped before it (Reply null). The password
    /// never appears in the transcript.
    /// </summary>
    public static async Task<(string? Reply, string Transcript)> AuthProbeAsync(
        string host, int port, string user, string password, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var token = deadline.Token;
        var transcript = new StringBuilder($"{host}:{port}: ");
        SslStream? tls = null;
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(host, port, token);
            Stream stream = client.GetStream();
            transcript.Append((await ReadReplyAsync(stream, token))[^1]);
            var ehlo = await CommandAsync(stream, "EHLO mailagent.doctor", token);
            if (!Keywords(ehlo).Any(k => k.Equals("STARTTLS", StringComparison.OrdinalIgnoreCase)))
                return (null, transcript.Append(" | no STARTTLS offered").ToString());
            var ready = await CommandAsync(stream, "STARTTLS", token);
            transcript.Append(CultureInfo.InvariantCulture, $" | STARTTLS → {ready[^1]}");
            if (!ready[^1].StartsWith("220", StringComparison.Ordinal))
                return (null, transcript.ToString());
            stream = tls = await StartTlsAsync(stream, host, token);
            var again = await CommandAsync(stream, "EHLO mailagent.doctor", token);
            transcript.Append(CultureInfo.InvariantCulture, $" | EHLO → [{string.Join(", ", Keywords(again))}]");
            if (!Keywords(again).Any(k => k.StartsWith("AUTH", StringComparison.OrdinalIgnoreCase) && k.Contains("PLAIN", StringComparison.OrdinalIgnoreCase)))
                return (null, transcript.Append(" | AUTH PLAIN not offered after STARTTLS").ToString());
            string response = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));
            var auth = await CommandAsync(stream, "AUTH PLAIN " + response, token);
            transcript.Append(CultureInfo.InvariantCulture, $" | AUTH PLAIN ({user}) → {auth[^1]}");
            await QuitAsync(stream, token);
            return (auth[^1], transcript.ToString());
        }
        catch (SocketException e)
        {
            return (null, transcript.Append(CultureInfo.InvariantCulture, $" cannot connect ({e.SocketErrorCode})").ToString());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, transcript.Append(CultureInfo.InvariantCulture, $" (no complete answer within {timeout.TotalSeconds:0.#} s)").ToString());
        }
        catch (Exception e) when (e is IOException or AuthenticationException or InvalidDataException)
        {
            return (null, transcript.Append(CultureInfo.InvariantCulture, $" (the dialogue broke off: {e.Message})").ToString());
        }
        finally
        {
            if (tls != null)
                await tls.DisposeAsync();
        }
    }

    /// <summary>
    /// The certificates the server sends after STARTTLS, leaf first then the chain .NET built from
    /// them (DER), or why none were seen (Certificates empty).
    /// </summary>
    public static async Task<(IReadOnlyList<byte[]> Certificates, string Problem)> ServedChainAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var token = deadline.Token;
        var chain = new List<byte[]>();
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(host, port, token);
            Stream stream = client.GetStream();
            await ReadReplyAsync(stream, token);
            var ehlo = await CommandAsync(stream, "EHLO mailagent.doctor", token);
            if (!Keywords(ehlo).Any(k => k.Equals("STARTTLS", StringComparison.OrdinalIgnoreCase)))
                return ([], $"{host}:{port} does not offer STARTTLS");
            var ready = await CommandAsync(stream, "STARTTLS", token);
            if (!ready[^1].StartsWith("220", StringComparison.Ordinal))
                return ([], $"{host}:{port} answered STARTTLS with {ready[^1]}");
            await using var tls = new SslStream(stream, leaveInnerStreamOpen: true, (_, certificate, built, _) =>
            {
                // DANE is judged by the caller: record what is served, accept it.
                if (certificate == null)
                    return false;
                chain.Add(certificate.GetRawCertData());
                if (built != null)
                    chain.AddRange(built.ChainElements.Skip(1).Select(e => e.Certificate.RawData));
                return true;
            });
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = host }, token);
            await QuitAsync(tls, token);
            return (chain, "");
        }
        catch (SocketException e)
        {
            return ([], $"cannot connect to {host}:{port} ({e.SocketErrorCode})");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return ([], $"{host}:{port} gave no complete answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (e is IOException or AuthenticationException or InvalidDataException)
        {
            return chain.Count > 0 ? (chain, "") : ([], $"the TLS dialogue with {host}:{port} broke off: {e.Message}");
        }
    }

    private static async Task<SslStream> StartTlsAsync(Stream inner, string host, CancellationToken token)
    {
        // Any certificate that is there is accepted: this probe reads capabilities; transport.certificate judges the certificate.
        var tls = new SslStream(inner, leaveInnerStreamOpen: true, (_, certificate, _, _) => certificate != null);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = host }, token);
        return tls;
    }

    private static async Task QuitAsync(Stream stream, CancellationToken token)
    {
        // Always QUIT, so the server logs a clean disconnect rather than a lost connection.
        await stream.WriteAsync("QUIT\r\n"u8.ToArray(), token);
        await stream.FlushAsync(token);
    }

    private static async Task<IReadOnlyList<string>> CommandAsync(Stream stream, string command, CancellationToken token)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), token);
        await stream.FlushAsync(token);
        return await ReadReplyAsync(stream, token);
    }

    /// <summary>EHLO keywords: every line of the reply after the greeting, without the code.</summary>
    private static string[] Keywords(IReadOnlyList<string> reply) =>
        reply.Skip(1).Select(l => l.Length > 4 ? l[4..].Trim() : "").Where(k => k.Length > 0).ToArray();

    // Byte by byte, so nothing after the reply is consumed before a TLS handshake.
    private static async Task<IReadOnlyList<string>> ReadReplyAsync(Stream stream, CancellationToken token)
    {
        var lines = new List<string>();
        var one = new byte[1];
        var line = new StringBuilder();
        while (lines.Count < MaxReplyLines)
        {
            line.Clear();
            while (true)
            {
                if (await stream.ReadAsync(one, token) == 0)
                    throw new InvalidDataException("the server closed the connection");
                if (one[0] == (byte)'\n')
                    break;
                if (one[0] != (byte)'\r')
                    line.Append(one[0] is >= 0x20 and < 0x7f ? (char)one[0] : '?');
                if (line.Length > MaxLineLength)
                    throw new InvalidDataException($"a reply line longer than {MaxLineLength} characters");
            }

            lines.Add(line.ToString());
            if (line.Length < 4 || line[3] != '-')
                return lines;
        }

        throw new InvalidDataException($"a reply of more than {MaxReplyLines} lines");
    }
}
