using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace MailAgent.Certificates;

/// <summary>A listener whose served certificate is checked: host:port and whether it speaks TLS at once (465) or after STARTTLS.</summary>
internal readonly record struct TlsEndpoint(string Host, int Port, bool ImplicitTls)
{
    public override string ToString() => ImplicitTls ? $"{Host}:{Port} (TLS)" : $"{Host}:{Port}";
}

/// <summary>What a probe saw: the served leaf's fingerprint and validity, or why there was none.</summary>
internal sealed record ServedCertificate(TlsEndpoint Endpoint, string? Fingerprint, DateTimeOffset? NotAfter, IReadOnlyList<string> Names, string? Problem)
{
    public bool Ok => Problem == null;

    /// <summary>The chain the served certificates make, leaf first ("a &lt;- b &lt;- root (trusted by the system)"); empty when unknown.</summary>
    public string Chain { get; init; } = "";

    /// <summary>Why the served certificates make no chain to a trusted root (a missing intermediate, a lone self-signed leaf); null when they do.</summary>
    public string? ChainProblem { get; init; }
}

/// <summary>Reads the certificate a listener serves; tests substitute a fake.</summary>
internal interface ITlsProbe
{
    Task<ServedCertificate> ProbeAsync(TlsEndpoint endpoint, CancellationToken cancellationToken);
}

/// <summary>
/// Connects, reads the 220 banner, sends EHLO and STARTTLS (or starts TLS at once for implicit
/// TLS), completes a TLS handshake accepting any certificate and keeps the one served. Safe with a
/// hostile or broken server: every read is bounded in length and count, and the whole probe in time.
/// </summary>
internal sealed class StartTlsProbe(TimeSpan timeout, TimeProvider time, string heloName = "mailagent.tls-probe", System.Net.IPAddress? source = null) : ITlsProbe
{
    private const int MaxLineLength = 2048;
    private const int MaxReplyLines = 100;

    public async Task<ServedCertificate> ProbeAsync(TlsEndpoint endpoint, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var token = linked.Token;
        try
        {
            using var client = await MailAgent.Probes.ProbeConnection.ConnectAsync(endpoint.Host, endpoint.Port, source, token);
            await using var network = client.GetStream();
            if (!endpoint.ImplicitTls)
            {
                string banner = await ReadReplyAsync(network, token);
                if (!banner.StartsWith("220", StringComparison.Ordinal))
                    return Failed(endpoint, $"banner was '{banner}', not 220");
                await network.WriteAsync(Encoding.ASCII.GetBytes($"EHLO {heloName}\r\n"), token);
                string ehlo = await ReadReplyAsync(network, token);
                if (!ehlo.StartsWith("250", StringComparison.Ordinal))
                    return Failed(endpoint, $"EHLO answered '{ehlo}'");
                await network.WriteAsync("STARTTLS\r\n"u8.ToArray(), token);
                string ready = await ReadReplyAsync(network, token);
                if (!ready.StartsWith("220", StringComparison.Ordinal))
                    return Failed(endpoint, $"STARTTLS answered '{ready}' (is TLS off, smtpd_tls_security_level = none?)");
            }

            X509Certificate2? served = null;
            var sent = new List<X509Certificate2>();
            try
            {
                await using var tls = new SslStream(network, leaveInnerStreamOpen: true, (_, certificate, chain, _) =>
                {
                    // Any certificate is accepted: the probe reports what is served; the validator judges it.
                    if (certificate != null)
                        served = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    // The certificates the server sent besides its leaf: what a sender can build the chain from.
                    foreach (var other in chain?.ChainPolicy.ExtraStore ?? [])
                        sent.Add(X509CertificateLoader.LoadCertificate(other.RawData));
                    return served != null;
                });
                await tls.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = endpoint.Host,
                        // Judged on what the server sends: no intermediate is fetched (nothing leaves the host), no revocation lookup.
                        CertificateChainPolicy = new X509ChainPolicy { DisableCertificateDownloads = true, RevocationMode = X509RevocationMode.NoCheck },
                    },
                    token);
                if (served == null)
                    return Failed(endpoint, "the TLS handshake completed without a server certificate");
                var names = CertificateValidator.DnsNames(served, out _);
                var others = sent.Where(c => !c.RawData.AsSpan().SequenceEqual(served.RawData)).ToList();
                string chainPath = CertificateValidator.CheckChain(served, [served, .. others], time.GetUtcNow(), CertificateValidator.ServedSource, out string? chainProblem);
                await QuitAsync(tls, token);
                return new ServedCertificate(endpoint, CertificateValidator.Fingerprint(served), new DateTimeOffset(served.NotAfter.ToUniversalTime()), names, null)
                {
                    Chain = chainPath,
                    ChainProblem = chainProblem,
                };
            }
            finally
            {
                served?.Dispose();
                foreach (var c in sent)
                    c.Dispose();
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Failed(endpoint, $"no complete answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            return Failed(endpoint, $"cannot connect ({e.SocketErrorCode})");
        }
        catch (Exception e) when (e is IOException or AuthenticationException or InvalidDataException)
        {
            return Failed(endpoint, $"TLS probe failed ({e.Message})");
        }
    }

    // Ends the session inside TLS with QUIT and waits for the 221 (an implicit-TLS server's greeting comes first),
    // so Postfix does not log "lost connection after STARTTLS". Best effort: the certificate is already known.
    private async Task QuitAsync(SslStream tls, CancellationToken token)
    {
        using var quit = new CancellationTokenSource(QuitTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(token, quit.Token);
        try
        {
            await tls.WriteAsync("QUIT\r\n"u8.ToArray(), linked.Token);
            for (int i = 0; i < 2; i++)
            {
                if ((await ReadReplyAsync(tls, linked.Token)).StartsWith("221", StringComparison.Ordinal))
                    return;
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or AuthenticationException
                                   || (e is OperationCanceledException && !token.IsCancellationRequested))
        {
        }
    }

    private static readonly TimeSpan QuitTimeout = TimeSpan.FromSeconds(1);

    private static ServedCertificate Failed(TlsEndpoint endpoint, string problem) => new(endpoint, null, null, [], problem);

    // Reads a (possibly multi-line) reply byte by byte, so nothing after it is consumed before the
    // TLS handshake, and returns its last line.
    private static async Task<string> ReadReplyAsync(Stream stream, CancellationToken cancellationToken)
    {
        var one = new byte[1];
        var line = new StringBuilder();
        for (int lines = 0; lines < MaxReplyLines; lines++)
        {
            line.Clear();
            while (true)
            {
                if (await stream.ReadAsync(one, cancellationToken) == 0)
                    throw new InvalidDataException("the server closed the connection");
                if (one[0] == (byte)'\n')
                    break;
                if (one[0] != (byte)'\r')
                    line.Append(one[0] is >= 0x20 and < 0x7f ? (char)one[0] : '?');
                if (line.Length > MaxLineLength)
                    throw new InvalidDataException($"a reply line longer than {MaxLineLength} characters");
            }

            if (line.Length < 4 || line[3] != '-')
                return line.ToString();
        }

        throw new InvalidDataException($"a reply of more than {MaxReplyLines} lines");
    }
}
