using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MailControlPlane.Registry;

namespace MailControlPlane.Probing;

/// <summary>Where a provider's host takes mail.</summary>
internal readonly record struct ProbeTarget(string Host, int Port);

/// <summary>One probe's outcome: <paramref name="Ok"/> when every step passed; <paramref name="Reason"/> names the step that failed, or what passed.</summary>
internal sealed record ProbeResult(bool Ok, string Reason, TimeSpan Elapsed, DateTimeOffset? CertificateNotAfter);

/// <summary>Runs one probe (a seam, so that the runner is tested without a network).</summary>
internal interface ISmtpProber
{
    Task<ProbeResult> ProbeAsync(ProbeTarget target, CancellationToken cancellationToken);
}

/// <summary>
/// An SMTP probe as a sending client sees the host: connect, 220 banner, EHLO, STARTTLS (offered, negotiated, the
/// certificate naming the host and within its validity), EHLO again, AUTH PLAIN with the probe credential when one is
/// configured, and always QUIT. The chain is not checked (private hosts often serve a private CA); the name and the
/// dates are what a sending client with opportunistic TLS and the platform's own check care about.
/// </summary>
internal sealed class SmtpProber(ProbeOptions options, TimeProvider time) : ISmtpProber
{
    private const int MaxReplyLines = 100;
    private const int MaxLineLength = 2048;

    public async Task<ProbeResult> ProbeAsync(ProbeTarget target, CancellationToken cancellationToken)
    {
        long started = time.GetTimestamp();
        using var timeout = new CancellationTokenSource(options.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        DateTimeOffset? notAfter = null;
        string step = "connect";
        try
        {
            using var client = new TcpClient(target.Host.Contains(':', StringComparison.Ordinal) ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork);
            await client.ConnectAsync(target.Host, target.Port, linked.Token);
            Stream stream = client.GetStream();
            step = "banner";
            var reply = await ReadReplyAsync(stream, linked.Token);
            if (reply.Code != 220)
                return Fail($"banner: {reply.Text}");
            step = "EHLO";
            reply = await CommandAsync(stream, $"EHLO {options.EhloName}", linked.Token);
            if (reply.Code != 250)
                return Fail($"EHLO: {reply.Text}");
            bool tls = false;
            if (options.RequireStartTls)
            {
                if (!reply.Lines.Any(l => l.Length > 4 && l[4..].StartsWith("STARTTLS", StringComparison.OrdinalIgnoreCase)))
                    return await QuitAndFailAsync(stream, "STARTTLS is not offered");
                step = "STARTTLS";
                reply = await CommandAsync(stream, "STARTTLS", linked.Token);
                if (reply.Code != 220)
                    return await QuitAndFailAsync(stream, $"STARTTLS: {reply.Text}");
                string name = string.IsNullOrWhiteSpace(options.CertificateName) ? target.Host : options.CertificateName;
                SslPolicyErrors errors = SslPolicyErrors.None;
                X509Certificate2? served = null;
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                try
                {
                    await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                    {
                        TargetHost = name,
                        // The name must match; a private CA (chain errors) is accepted, the dates are judged below on the TimeProvider.
                        RemoteCertificateValidationCallback = (_, certificate, _, policyErrors) =>
                        {
                            errors = policyErrors;
                            if (certificate != null)
                                served = new X509Certificate2(certificate);
                            return certificate != null && (policyErrors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None;
                        },
                    }, linked.Token);
                }
                catch (System.Security.Authentication.AuthenticationException) when ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 && served != null)
                {
                    using (served)
                        return Fail($"STARTTLS: the served certificate ({served.Subject}) does not name {name}");
                }

                stream = ssl;
                tls = true;
                using (served)
                {
                    if (served == null)
                        return await QuitAndFailAsync(stream, "STARTTLS: no certificate served");
                    notAfter = new DateTimeOffset(served.NotAfter.ToUniversalTime(), TimeSpan.Zero);
                    var now = time.GetUtcNow();
                    if (notAfter < now)
                        return await QuitAndFailAsync(stream, $"the served certificate expired at {notAfter:yyyy-MM-dd HH:mm} UTC");
                    if (served.NotBefore.ToUniversalTime() > now.UtcDateTime)
                        return await QuitAndFailAsync(stream, $"the served certificate is not valid before {served.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
                }

                step = "EHLO after STARTTLS";
                reply = await CommandAsync(stream, $"EHLO {options.EhloName}", linked.Token);
                if (reply.Code != 250)
                    return await QuitAndFailAsync(stream, $"EHLO after STARTTLS: {reply.Text}");
            }

            if (!string.IsNullOrEmpty(options.AuthUser))
            {
                step = "AUTH";
                string token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{options.AuthUser}\0{options.AuthPassword}"));
                reply = await CommandAsync(stream, $"AUTH PLAIN {token}", linked.Token);
                if (reply.Code != 235)
                    return await QuitAndFailAsync(stream, $"AUTH: {reply.Text}");
            }

            step = "QUIT";
            await CommandAsync(stream, "QUIT", linked.Token);
            return new ProbeResult(true, tls ? $"banner, EHLO, STARTTLS (certificate until {notAfter:yyyy-MM-dd}){(options.AuthUser.Length > 0 ? ", AUTH" : "")} ok" : "banner and EHLO ok", Elapsed(), notAfter);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Fail($"{step}: no answer within {options.Timeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (e is SocketException or IOException or System.Security.Authentication.AuthenticationException or InvalidDataException)
        {
            return Fail($"{step} to {target.Host}:{target.Port}: {e.Message}");
        }

        TimeSpan Elapsed() => time.GetElapsedTime(started);

        ProbeResult Fail(string why) => new(false, why, Elapsed(), notAfter);

        async Task<ProbeResult> QuitAndFailAsync(Stream stream, string why)
        {
            try
            {
                await CommandAsync(stream, "QUIT", linked.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or InvalidDataException)
            {
                // The verdict stands; the session ends with the socket.
            }

            return Fail(why);
        }
    }

    private readonly record struct Reply(int Code, string Text, IReadOnlyList<string> Lines);

    private static async Task<Reply> CommandAsync(Stream stream, string command, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), cancellationToken);
        await stream.FlushAsync(cancellationToken);
        return await ReadReplyAsync(stream, cancellationToken);
    }

    /// <summary>A (multi-line) reply: lines "ddd-..." until "ddd ...". Reads byte by byte so nothing past the reply is consumed (STARTTLS follows).</summary>
    private static async Task<Reply> ReadReplyAsync(Stream stream, CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        var one = new byte[1];
        while (lines.Count < MaxReplyLines)
        {
            int read = await stream.ReadAsync(one, cancellationToken);
            if (read == 0)
                throw new IOException(lines.Count == 0 && line.Length == 0 ? "the server closed the connection" : "the server closed the connection mid-reply");
            if (one[0] == '\n')
            {
                string text = line.ToString().TrimEnd('\r');
                line.Clear();
                lines.Add(text);
                if (text.Length < 3 || !int.TryParse(text.AsSpan(0, 3), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int code))
                    throw new InvalidDataException($"not an SMTP reply: '{text}'");
                if (text.Length == 3 || text[3] == ' ')
                    return new Reply(code, string.Join(" / ", lines), lines);
                continue;
            }

            if (line.Length >= MaxLineLength)
                throw new InvalidDataException("an SMTP reply line longer than 2048 bytes");
            line.Append((char)one[0]);
        }

        throw new InvalidDataException($"an SMTP reply longer than {MaxReplyLines} lines");
    }
}
