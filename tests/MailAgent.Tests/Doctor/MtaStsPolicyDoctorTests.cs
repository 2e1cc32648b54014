using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MailAgent.Doctor;
using MailAgent.Tests.Certificates;
using Xunit.Abstractions;

namespace MailAgent.Tests.Doctor;

/// <summary>
/// The MTA-STS policy item against a loopback HTTPS server with a certificate for mta-sts.example.test
/// from a test CA: a good enforce policy passes; a policy whose mx does not cover myhostname fails;
/// a 404 fails; nothing listening warns (not reachable from here).
/// </summary>
public sealed class MtaStsPolicyDoctorTests(ITestOutputHelper output) : IDisposable
{
    private const string Domain = "example.test";
    private const string HostName = "mail.example.test";
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-mta-sts-").FullName;
    private readonly TestCertificates _certs = new(DateTimeOffset.UtcNow);

    public void Dispose()
    {
        _certs.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<DoctorItem> FetchAsync(string? status, string body)
    {
        var now = DateTimeOffset.UtcNow;
        var pair = _certs.Leaf(["mta-sts." + Domain], now.AddDays(-1), now.AddDays(30));
        string ca = Path.Combine(_dir, "ca.pem");
        await File.WriteAllTextAsync(ca, pair.CaPem);
        using var certificate = X509Certificate2.CreateFromPem(pair.CertificatePem, pair.KeyPem);
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        if (status == null)
            listener.Stop(); // nothing listens: the port refuses
        string? requestLine = null;
        var server = status == null ? Task.CompletedTask : Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            await using var tls = new SslStream(client.GetStream());
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate });
            using var reader = new StreamReader(tls, Encoding.ASCII, false, 1024, leaveOpen: true);
            requestLine = await reader.ReadLineAsync();
            while (await reader.ReadLineAsync() is { Length: > 0 })
            {
            }

            byte[] content = Encoding.UTF8.GetBytes(body);
            await tls.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {content.Length}\r\nConnection: close\r\n\r\n"));
            await tls.WriteAsync(content);
            await tls.FlushAsync();
        });
        try
        {
            var options = new DoctorOptions { MtaStsConnectTo = $"127.0.0.1:{port}", MtaStsCaFile = ca, Timeout = TimeSpan.FromSeconds(10) };
            var item = (await new MtaStsPolicyDoctor(options, Domain, HostName).RunAsync(CancellationToken.None)).Single();
            await server;
            output.WriteLine($"{item.Status}: {item.Why}\n  {string.Join("\n  ", item.Evidence)}\nrequest: {requestLine}");
            if (status != null)
                Assert.Equal("GET /.well-known/mta-sts.txt HTTP/1.1", requestLine);
            return item;
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task Policy_EnforceCoveringHost_Passes()
    {
        var item = await FetchAsync("200 OK", "version: STSv1\r\nmode: enforce\r\nmx: *.example.test\r\nmax_age: 604800\r\n");

        Assert.Equal(DoctorStatus.Pass, item.Status);
    }

    [Fact]
    public async Task Policy_MxNotCoveringHost_Fails()
    {
        var item = await FetchAsync("200 OK", "version: STSv1\r\nmode: enforce\r\nmx: mx.other.test\r\nmax_age: 604800\r\n");

        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.Contains("no mx line covers mail.example.test", item.Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Policy_NotFound_Fails()
    {
        var item = await FetchAsync("404 Not Found", "no");

        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.Contains("404", item.Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Policy_NothingListening_WarnsNotReachable()
    {
        var item = await FetchAsync(null, "");

        Assert.Equal(DoctorStatus.Warn, item.Status);
        Assert.Contains("not reachable", item.Why, StringComparison.Ordinal);
    }
}
