using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MailAgent.Certificates;

namespace MailAgent.Tests.Certificates;

/// <summary>The probe against tiny in-test servers: a well-behaved STARTTLS one, implicit TLS, and hostile ones.</summary>
public sealed class StartTlsProbeTests : IDisposable
{
    private readonly TestCertificates _certs = new(DateTimeOffset.UtcNow);
    private readonly TestPair _pair;
    private readonly X509Certificate2 _server;

    public StartTlsProbeTests()
    {
        var now = DateTimeOffset.UtcNow;
        _pair = _certs.Leaf(["mail.example.test"], now.AddDays(-1), now.AddDays(30));
        using var pem = X509Certificate2.CreateFromPem(_pair.CertificatePem, _pair.KeyPem);
        _server = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose()
    {
        _server.Dispose();
        _certs.Dispose();
    }

    [Fact]
    public async Task ProbeAsync_StartTlsServer_ReturnsServedFingerprint()
    {
        using var listener = Listen();
        var server = ServeAsync(listener, async (stream, lines) =>
        {
            await WriteAsync(stream, "220 test ESMTP\r\n");
            await lines();
            await WriteAsync(stream, "250-test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
            await lines();
            await WriteAsync(stream, "220 2.0.0 Ready to start TLS\r\n");
            await using var tls = new SslStream(stream);
            await tls.AuthenticateAsServerAsync(_server);
        });

        var served = await Probe().ProbeAsync(new TlsEndpoint("127.0.0.1", Port(listener), false), CancellationToken.None);
        await server;

        Assert.True(served.Ok, served.Problem);
        Assert.Equal(_pair.Fingerprint, served.Fingerprint);
        Assert.Contains("mail.example.test", served.Names);
    }

    [Fact]
    public async Task ProbeAsync_ImplicitTls_ReturnsServedFingerprint()
    {
        using var listener = Listen();
        var server = ServeAsync(listener, async (stream, _) =>
        {
            await using var tls = new SslStream(stream);
            await tls.AuthenticateAsServerAsync(_server);
        });

        var served = await Probe().ProbeAsync(new TlsEndpoint("127.0.0.1", Port(listener), true), CancellationToken.None);
        await server;

        Assert.Equal(_pair.Fingerprint, served.Fingerprint);
    }

    [Fact]
    public async Task ProbeAsync_LeafWithoutItsIssuer_ChainIncomplete()
    {
        using var listener = Listen();
        var server = ServeAsync(listener, async (stream, _) =>
        {
            await using var tls = new SslStream(stream);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = SslStreamCertificateContext.Create(_server, [], offline: true),
            });
        });

        var served = await Probe().ProbeAsync(new TlsEndpoint("127.0.0.1", Port(listener), true), CancellationToken.None);
        await server;

        Assert.True(served.Ok, served.Problem);
        Assert.NotNull(served.ChainProblem);
        Assert.StartsWith("chain incomplete: the issuer 'CN=MailAgent Test CA' of 'CN=mail.example.test' is neither sent by the listener nor trusted by the system", served.ChainProblem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeAsync_LoneSelfSigned_NoChain()
    {
        var pair = TestCertificates.SelfSigned("mail.example.test", DateTimeOffset.UtcNow);
        using var pem = X509Certificate2.CreateFromPem(pair.CertificatePem, pair.KeyPem);
        using var selfSigned = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        using var listener = Listen();
        var server = ServeAsync(listener, async (stream, _) =>
        {
            await using var tls = new SslStream(stream);
            await tls.AuthenticateAsServerAsync(selfSigned);
        });

        var served = await Probe().ProbeAsync(new TlsEndpoint("127.0.0.1", Port(listener), true), CancellationToken.None);
        await server;

        Assert.Equal(pair.Fingerprint, served.Fingerprint);
        Assert.StartsWith("the certificate is self-signed and sent alone: no chain", served.ChainProblem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeAsync_NoStartTls_SaysSo()
    {
        using var listener = Listen();
        var server = ServeAsync(listener, async (stream, lines) =>
        {
            await WriteAsync(stream, "220 test ESMTP\r\n");
            await lines();
            await WriteAsync(stream, "250 test\r\n");
            await lines();
            await WriteAsync(stream, "502 5.5.1 Error: command not implemented\r\n");
        });

        var served = await Probe().ProbeAsync(new TlsEndpoint("127.0.0.1", Port(listener), false), CancellationToken.None);
        await server;

        Assert.False(served.Ok);
        Assert.Contains("STARTTLS answered '502", served.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeAsync_EndlessLine_FailsWithoutHanging()
    {
        using var listener = Listen();
        using var stop = new CancellationTokenSource();
        var server = ServeAsync(listener, async (stream, _) =>
        {
            var junk = Encoding.ASCII.GetBytes(new string('x', 4096));
            try
            {
                while (!stop.IsCancellationRequested)
                    await stream.WriteAsync(junk, stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
            }
        });

        var served = await Probe().ProbeAsync(new TlsEndpoint("127.0.0.1", Port(listener), false), CancellationToken.None);
        await stop.CancelAsync();
        await server;

        Assert.False(served.Ok);
        Assert.Contains("longer than", served.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProbeAsync_SilentServer_TimesOut()
    {
        using var listener = Listen();
        var release = new TaskCompletionSource();
        var server = ServeAsync(listener, async (_, _) => await release.Task);

        var served = await new StartTlsProbe(TimeSpan.FromMilliseconds(300), TimeProvider.System).ProbeAsync(new TlsEndpoint("127.0.0.1", Port(listener), false), CancellationToken.None);
        release.SetResult();
        await server;

        Assert.Contains("no complete answer", served.Problem, StringComparison.Ordinal);
    }

    private static StartTlsProbe Probe() => new(TimeSpan.FromSeconds(10), TimeProvider.System);

    private static TcpListener Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static int Port(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port;

    private static async Task WriteAsync(Stream stream, string text) => await stream.WriteAsync(Encoding.ASCII.GetBytes(text));

    // Accepts one client; 'lines' reads one command line from it byte by byte.
    private static async Task ServeAsync(TcpListener listener, Func<NetworkStream, Func<Task>, Task> conversation)
    {
        using var client = await listener.AcceptTcpClientAsync();
        await using var stream = client.GetStream();
        async Task ReadLine()
        {
            var one = new byte[1];
            while (await stream.ReadAsync(one) == 1 && one[0] != '\n')
            {
            }
        }

        try
        {
            await conversation(stream, ReadLine);
        }
        catch (IOException)
        {
            // The probe hung up first.
        }
    }
}
