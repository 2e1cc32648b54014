using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using MailAgent.Certificates;
using MailAgent.Protos.V1;
using MailAgent.Tests.Integration.Agent;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.ConfigApply;

/// <summary>
/// ApplyConfig through the real daemon over gRPC against a private Postfix: a valid change, a change
/// that makes every smtpd die (rolled back, and Postfix must serve again afterwards — the master's
/// throttling survives a reload), then a valid change again, which must apply rather than be blamed
/// for the previous rollback.
/// </summary>
public sealed class ApplyConfigOverGrpcTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(4);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mailagent-apply-grpc-" + Guid.NewGuid().ToString("N"));
    private PrivatePostfix _postfix = null!;
    private PkiFiles _pki = null!;
    private X509Certificate2 _ca = null!;
    private AgentProcess _agent = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _postfix = await PrivatePostfix.StartAsync();
        _pki = AgentPki.Init(Path.Combine(_dir, "pki"), "agent-test", "control-plane", 60, [], TimeProvider.System);
        _ca = X509Certificate2.CreateFromPemFile(_pki.CaCertificate, _pki.CaKey);
        // The agent's children (postfix stop/start after a rollback) carry the private instance's marker, so its sweep finds them.
        _agent = await AgentProcess.StartUnderAsync(
            [],
            new Dictionary<string, string?> { [PrivatePostfix.MarkerVariable] = _postfix.RootDirectory },
            $"LogTailing:Path={_postfix.LogPath}", $"LogTailing:StateDirectory={Path.Combine(_dir, "state")}",
            "Postfix:PostfixPath=/usr/sbin/postfix", "Postfix:PostconfPath=/usr/sbin/postconf", $"Postfix:ConfigDirectory={_postfix.ConfigDirectory}",
            $"Health:SmtpEndpoints=127.0.0.1:{_postfix.SmtpPort}", $"Health:MilterAddress=127.0.0.1:{_postfix.MilterPort}",
            $"Health:QueueDirectory={_postfix.QueueDirectory}",
            $"ConfigApply:AuditLogPath={Path.Combine(_dir, "audit.log")}", "ConfigApply:VerifyTimeout=00:00:30",
            "ConfigApply:AllowedParameters=*_destination_concurrency_limit;*_destination_rate_delay;smtpd_client_connection_count_limit",
            "Grpc:Listen=127.0.0.1:0", $"Grpc:CaFile={_pki.CaCertificate}", $"Grpc:CertificateFile={_pki.AgentCertificate}",
            $"Grpc:KeyFile={_pki.AgentKey}", "Grpc:ReadClients=control-plane", "Grpc:WriteClients=admin");
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _postfix.DisposeAsync();
        _ca.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task ApplyConfig_ValidThenRollbackThenValid_RollbackLeavesSmtpdAnsweringAndTheNextChangeApplies()
    {
        using var channel = await ChannelAsync();
        var client = new AgentService.AgentServiceClient(channel);

        var first = await ApplyAsync(client, "smtp_destination_rate_delay", "2s", "first");
        var bad = await ApplyAsync(client, "smtpd_client_connection_count_limit", "many", "bad");
        string? banner = await MailAgent.Health.Checks.SmtpBannerCheck.ProbeAsync($"127.0.0.1:{_postfix.SmtpPort}", new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        var next = await ApplyAsync(client, "smtp_destination_concurrency_limit", "5", "next");

        Assert.True(first.Result == ApplyResult.Applied, first.Reason);
        Assert.True(bad.Result == ApplyResult.RolledBack, bad.Reason);
        Assert.Contains("bad numerical configuration", bad.Reason, StringComparison.Ordinal);
        Assert.Contains(bad.Messages, m => m.StartsWith("verified after the rollback:", StringComparison.Ordinal));
        Assert.Null(banner); // smtpd answers 220 right after the rollback's reply
        Assert.True(next.Result == ApplyResult.Applied, $"{next.Reason}\n{string.Join('\n', next.Messages)}");
        var postconf = await Tool.RunAsync("/usr/sbin/postconf", ["-c", _postfix.ConfigDirectory, "-n", "-h", "smtp_destination_concurrency_limit"], CancellationToken.None);
        Assert.Equal("5", postconf.StandardOutput.Trim());
    }

    private async Task<ApplyConfigResponse> ApplyAsync(AgentService.AgentServiceClient client, string name, string value, string key)
    {
        var request = new ApplyConfigRequest { IdempotencyKey = key };
        request.Set.Add(name, value);
        var reply = await client.ApplyConfigAsync(request, deadline: DateTime.UtcNow.Add(Deadline));
        output.WriteLine($"{name} = {value}: {reply.Result} {reply.Reason}\n  {string.Join("\n  ", reply.Messages)}");
        return reply;
    }

    private async Task<GrpcChannel> ChannelAsync()
    {
        var now = DateTimeOffset.UtcNow;
        X509Certificate2 client;
        using (var issued = AgentPki.IssueClient(_ca, "admin", now.AddMinutes(-5), now.AddDays(10)))
            client = X509CertificateLoader.LoadPkcs12(issued.Export(X509ContentType.Pkcs12), null);
        var ssl = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, server, _, _) => server != null && ChainsToCa(server),
            ClientCertificates = new X509CertificateCollection { client },
            LocalCertificateSelectionCallback = (_, _, _, _, _) => client,
        };
        return GrpcChannel.ForAddress(await _agent.GrpcAddressAsync(), new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { SslOptions = ssl }, DisposeHttpClient = true });
    }

    private bool ChainsToCa(X509Certificate server)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(server);
        return chain.Build(leaf);
    }
}
