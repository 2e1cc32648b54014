using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using MailAgent.Protos.V1;
using MailAgent.Tests.Certificates;
using MailAgent.Tests.Integration.Agent;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Certificates;

/// <summary>The real agent against a private Postfix with TLS: the tls check, the watcher and ReloadCertificates.</summary>
[Trait("Category", "Integration")]
public sealed class AgentCertificateTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Host = "mail." + PrivatePostfix.SigningDomain;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mailagent-agentcerts-" + Guid.NewGuid().ToString("N"));
    private readonly TestCertificates _certs = new(DateTimeOffset.UtcNow);
    private PrivatePostfix _postfix = null!;
    private AgentProcess _agent = null!;
    private X509Certificate2 _ca = null!;
    private TestPair _good = null!;

    private string ChainFile => Path.Combine(_dir, "chain.pem");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var now = DateTimeOffset.UtcNow;
        _good = _certs.Leaf([Host], now.AddDays(-1), now.AddDays(60));
        await File.WriteAllTextAsync(ChainFile, _good.ChainFile);
        _postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { TlsChainFile = ChainFile, Diagnostics = output.WriteLine });
        var pki = MailAgent.Certificates.AgentPki.Init(Path.Combine(_dir, "pki"), "agent-test", "control-plane", 60, [], TimeProvider.System);
        _ca = X509Certificate2.CreateFromPemFile(pki.CaCertificate, pki.CaKey);
        _agent = await AgentProcess.StartAsync(
            $"LogTailing:Path={_postfix.LogPath}", $"LogTailing:StateDirectory={Path.Combine(_dir, "state")}",
            $"Postfix:ConfigDirectory={_postfix.ConfigDirectory}", "Health:Checks=tls", "Health:Interval=00:00:00.5", "Health:SlowInterval=00:00:01",
            "Health:CheckTimeout=00:00:10",
            $"Certificates:Endpoints=127.0.0.1:{_postfix.SmtpPort};127.0.0.1:{_postfix.SubmissionPort}", "Certificates:Debounce=00:00:00.2",
            "Certificates:PollInterval=00:00:01", "Certificates:VerifyDelay=00:00:00.5",
            "Grpc:Listen=127.0.0.1:0", $"Grpc:CaFile={pki.CaCertificate}", $"Grpc:CertificateFile={pki.AgentCertificate}",
            $"Grpc:KeyFile={pki.AgentKey}", "Grpc:ReadClients=control-plane", "Grpc:WriteClients=admin");
    }

    public async Task DisposeAsync()
    {
        output.WriteLine(_agent.Output);
        await _agent.DisposeAsync();
        await _postfix.DisposeAsync();
        _ca.Dispose();
        _certs.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [ServerFact("postfix")]
    public async Task Agent_ExpiredRenewal_RefusedUnhealthyThenReloadByWriterOnly()
    {
        await Eventually.UntilAsync(HealthAsync, b => b.Contains("\"status\": \"healthy\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30), b => b);

        var now = DateTimeOffset.UtcNow;
        await File.WriteAllTextAsync(ChainFile, _certs.Leaf([Host], now.AddDays(-90), now.AddMinutes(-1)).ChainFile);

        // The watcher refuses it and puts the good file back; the check says why.
        await Eventually.UntilAsync(HealthAsync,
            b => b.Contains("\"status\": \"unhealthy\"", StringComparison.Ordinal) && b.Contains("expired", StringComparison.Ordinal), TimeSpan.FromSeconds(30), b => b);
        // The check may see the expired file before the deployer has put the good one back.
        await Eventually.UntilAsync(ct => File.ReadAllTextAsync(ChainFile, ct), t => t == _good.ChainFile, TimeSpan.FromSeconds(30), _ => "the good chain file was not restored");

        var grpc = await _agent.GrpcAddressAsync();
        using (var reader = Channel(Client("control-plane"), grpc))
        {
            var denied = await Assert.ThrowsAsync<RpcException>(() => new AgentService.AgentServiceClient(reader)
                .ReloadCertificatesAsync(new ReloadCertificatesRequest(), deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
            Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        }

        using var writer = Channel(Client("admin"), grpc);
        var reply = await new AgentService.AgentServiceClient(writer).ReloadCertificatesAsync(new ReloadCertificatesRequest(), deadline: DateTime.UtcNow.AddSeconds(60));

        Assert.True(reply.Result == MailAgent.Protos.V1.CertificateReloadResult.Unchanged, reply.Reason);
        Assert.Equal(_good.Fingerprint, reply.ServedFingerprint);
        var metrics = await _agent.ScrapeAsync();
        Assert.True(AgentProcess.Value(metrics, "mailagent_cert_reloads_total", "result=\"refused\"") >= 1);
        Assert.True(AgentProcess.Value(metrics, "mailagent_cert_reloads_total", "result=\"unchanged\"") >= 2);
        await Eventually.UntilAsync(HealthAsync, b => b.Contains("\"status\": \"healthy\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30), b => b);
    }

    private async Task<string> HealthAsync(CancellationToken cancellationToken) => (await _agent.GetAsync("/health")).Body;

    private X509Certificate2 Client(string commonName)
    {
        var now = DateTimeOffset.UtcNow;
        using var certificate = MailAgent.Certificates.AgentPki.IssueClient(_ca, commonName, now.AddMinutes(-5), now.AddDays(10));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    private static GrpcChannel Channel(X509Certificate2 client, Uri address)
    {
        var ssl = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, server, _, _) => server != null,
            ClientCertificates = new X509CertificateCollection { client },
            LocalCertificateSelectionCallback = (_, _, _, _, _) => client,
        };
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { SslOptions = ssl }, DisposeHttpClient = true });
    }
}
