using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MailAgent.Doctor;

/// <summary>What the DKIM probe saw: the message as it arrived at the doctor's sink (null: none), and the dialogue.</summary>
internal sealed record DkimProbeOutcome(string? ArrivedHeaders, string Transcript);

/// <summary>
/// The path an operator's mail takes: submits a message from the mail domain through the local
/// Postfix (its milters, OpenDKIM among them, see it as any local client's mail) to a recipient the
/// operator routes with transport_maps to <c>smtp:[sink address]:sink port</c>, where the doctor
/// itself listens as a minimal SMTP server and keeps the headers of what arrives.
/// </summary>
internal static class DkimSigningProbe
{
    private const int MaxLineLength = 4096;
    private const int MaxHeaderBytes = 256 * 1024;

    public static async Task<DkimProbeOutcome> RunAsync(
        string smtpHost, int smtpPort, string sender, string recipient, IPEndPoint sink, TimeSpan timeout, TimeSpan wait, CancellationToken cancellationToken)
    {
        var listener = new TcpListener(sink);
        try
        {
            listener.Start();
        }
        catch (SocketException e)
        {
            return new(null, $"cannot listen on {sink} for the returning message ({e.SocketErrorCode})");
        }

        try
        {
            string token = Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant();
            string domain = sender[(sender.IndexOf('@', StringComparison.Ordinal) + 1)..];
            var (accepted, transcript) = await SubmitAsync(smtpHost, smtpPort, sender, recipient, token, domain, timeout, cancellationToken);
            if (!accepted)
                return new(null, transcript);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(wait);
            try
            {
                while (true)
                {
                    using var client = await listener.AcceptTcpClientAsync(deadline.Token);
                    string? headers = await ReceiveAsync(client.GetStream(), deadline.Token);
                    if (headers != null && headers.Contains(token, StringComparison.Ordinal))
                        return new(headers, transcript + $" | arrived at {sink}");
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new(null, transcript + $" | nothing arrived at {sink} within {wait.TotalSeconds:0.#} s");
            }
            catch (Exception e) when (e is IOException or SocketException or InvalidDataException)
            {
                return new(null, transcript + $" | the delivery to {sink} broke off: {e.Message}");
            }
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>The tags of each DKIM-Signature header (unfolded), e.g. d and s.</summary>
    public static IReadOnlyList<IReadOnlyDictionary<string, string>> Signatures(string headers)
    {
        var unfolded = headers.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n ", " ", StringComparison.Ordinal).Replace("\n\t", " ", StringComparison.Ordinal);
        var result = new List<IReadOnlyDictionary<string, string>>();
        foreach (string line in unfolded.Split('\n'))
        {
            if (!line.StartsWith("DKIM-Signature:", StringComparison.OrdinalIgnoreCase))
                continue;
            var tags = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string part in line["DKIM-Signature:".Length..].Split(';'))
            {
                int eq = part.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                    tags[part[..eq].Trim()] = string.Concat(part[(eq + 1)..].Where(c => !char.IsWhiteSpace(c)));
            }

            result.Add(tags);
        }

        return result;
    }

    private static async Task<(bool Accepted, string Transcript)> SubmitAsync(
        string host, int port, string sender, string recipient, string token, string domain, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var transcript = new StringBuilder($"{host}:{port}: ");
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(host, port, deadline.Token);
            var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.Latin1, false, 1024, leaveOpen: true);
            transcript.Append(await ReplyAsync(reader, deadline.Token));
            string message =
                $"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: mailagent doctor DKIM probe\r\n" +
                $"Message-ID: <doctor-{token}@{domain}>\r\nX-MailAgent-Doctor: {token}\r\n" +
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" +
                "A test message from 'mailagent doctor' checking that outgoing mail is DKIM-signed.\r\n.";
            foreach (string command in new[] { "EHLO mailagent.doctor", $"MAIL FROM:<{sender}>", $"RCPT TO:<{recipient}>", "DATA", message })
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), deadline.Token);
                string reply = await ReplyAsync(reader, deadline.Token);
                string shown = command == message ? "(message)" : command;
                transcript.Append(CultureInfo.InvariantCulture, $" | {shown} → {reply}");
                bool ok = command == "DATA" ? reply.StartsWith("354", StringComparison.Ordinal) : reply.StartsWith('2');
                if (!ok)
                    return (false, transcript.ToString());
            }

            await stream.WriteAsync("QUIT\r\n"u8.ToArray(), deadline.Token);
            return (true, transcript.ToString());
        }
        catch (SocketException e)
        {
            return (false, transcript.Append(CultureInfo.InvariantCulture, $" cannot connect ({e.SocketErrorCode})").ToString());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, transcript.Append(CultureInfo.InvariantCulture, $" (no complete answer within {timeout.TotalSeconds:0.#} s)").ToString());
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            return (false, transcript.Append(CultureInfo.InvariantCulture, $" (the dialogue broke off: {e.Message})").ToString());
        }
    }

    // The last line of a (possibly multi-line) reply.
    private static async Task<string> ReplyAsync(StreamReader reader, CancellationToken token)
    {
        for (int lines = 0; lines < 100; lines++)
        {
            string line = await reader.ReadLineAsync(token) ?? throw new InvalidDataException("the server closed the connection");
            if (line.Length > MaxLineLength)
                throw new InvalidDataException($"a reply line longer than {MaxLineLength} characters");
            if (line.Length < 4 || line[3] != '-')
                return line;
        }

        throw new InvalidDataException("a reply of more than 100 lines");
    }

    /// <summary>A minimal SMTP server for one connection; returns the header block of the message it took, or null.</summary>
    private static async Task<string?> ReceiveAsync(NetworkStream stream, CancellationToken token)
    {
        using var reader = new StreamReader(stream, Encoding.Latin1, false, 4096, leaveOpen: true);
        async Task SendAsync(string line) => await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"), token);
        await SendAsync("220 mailagent.doctor sink");
        string? headers = null;
        while (await reader.ReadLineAsync(token) is { } line)
        {
            string verb = line.Length >= 4 ? line[..4].ToUpperInvariant() : line.ToUpperInvariant();
            switch (verb)
            {
                case "EHLO":
                    await SendAsync("250-mailagent.doctor");
                    await SendAsync("250 8BITMIME");
                    break;
                case "DATA":
                    await SendAsync("354 go ahead");
                    var header = new StringBuilder();
                    bool inHeader = true;
                    while (await reader.ReadLineAsync(token) is { } data && data != ".")
                    {
                        if (data.Length == 0)
                            inHeader = false;
                        if (inHeader && header.Length < MaxHeaderBytes)
                            header.Append(data).Append("\r\n");
                    }

                    headers = header.ToString();
                    await SendAsync("250 2.0.0 taken by mailagent doctor");
                    break;
                case "QUIT":
                    await SendAsync("221 bye");
                    return headers;
                default:
                    await SendAsync(verb is "HELO" or "MAIL" or "RCPT" or "RSET" or "NOOP" ? "250 ok" : "502 not here");
                    break;
            }
        }

        return headers;
    }
}
