using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Net.Client;
using MailAgent.Protos.ControlPlane.V1;
using MailAgent.Protos.V1;
using MailAgent.Tests.Integration.Grpc;
using MailControlPlane.Grpc;
using MailControlPlane.Hosting;
using MailControlPlane.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MailControlPlane.Tests.Integration.Authorization;

/// <summary>The control plane's own API, hosted in process on 127.0.0.1 with a private CA: who may call what.</summary>
public sealed class ApiAuthorizationTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cp-api-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly RecordingTarget _target = new();
    private X509Certificate2 _ca = null!;
    private WebApplication _app = null!;
    private Uri _api = null!;
    private Uri _http = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var now = DateTimeOffset.UtcNow;
        using (var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=api-test-ca", caKey, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            _ca = request.CreateSelfSigned(now.AddDays(-20), now.AddDays(30));
        }

        await File.WriteAllTextAsync(InDir("ca.crt"), _ca.ExportCertificatePem());
        WritePair(Server(now), "server");
        WritePair(GrpcCallMatrix.Issue(_ca, new X500DistinguishedName("CN=control-plane"), now.AddHours(-1), now.AddDays(10)), "client");
        string[] args =
        [
            // An agent that is never reachable: the API answers from the (empty) board.
            "Agents:0:Name=postfix-a", "Agents:0:Address=https://localhost:1", "Agents:0:Region=r", "Agents:0:ProviderName=postfix-a",
            $"Tls:CaFile={InDir("ca.crt")}", $"Tls:CertificateFile={InDir("client.crt")}", $"Tls:KeyFile={InDir("client.key")}",
            "Http:Urls=http://127.0.0.1:0", "Grpc:Listen=127.0.0.1:0", $"Grpc:CertificateFile={InDir("server.crt")}", $"Grpc:KeyFile={InDir("server.key")}",
            "Grpc:ReadClients=reader", "Grpc:WriteClients=writer", "Grpc:Clients=legacy",
            $"Routing:SqlitePath={InDir("routing.db")}", "Log:FilePath=",
        ];
        var config = ControlPlaneConfiguration.Build(args, out _, out var errors);
        errors.AddRange(ControlPlaneConfiguration.Validate(config, out var settings));
        Assert.Empty(errors);
        _app = ControlPlaneHost.Build(settings, TimeProvider.System, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton<IRolloutTarget>(_target);
        });
        await ControlPlaneHost.StartAsync(_app, settings);
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        _api = new Uri(addresses.Single(a => a.StartsWith("https://", StringComparison.Ordinal)));
        _http = new Uri(addresses.Single(a => a.StartsWith("http://", StringComparison.Ordinal)));
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _ca.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Endpoints_EveryMappedGrpcMethod_DeclaresAPermission()
    {
        var methods = _app.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(e => (Method: e.Metadata.GetMetadata<GrpcMethodMetadata>(), Permission: e.Metadata.GetMetadata<RequiresPermissionAttribute>()))
            .Where(e => e.Method != null && ControlPlaneService.Descriptor.Methods.Any(m => m.Name == e.Method.Method.Name))
            .ToList();

        Assert.Equal(ControlPlaneService.Descriptor.Methods.Select(m => "/" + m.FullName.Replace("." + m.Name, "/" + m.Name, StringComparison.Ordinal)).Order(),
            methods.Select(m => m.Method!.Method.FullName).Order());
        Assert.All(methods, m => Assert.True(m.Permission != null, $"{m.Method!.Method.FullName} declares no [RequiresPermission]"));
    }

    [Fact]
    public async Task EveryMethod_EveryIdentityAndPathVariant_OnlyTheDeclaredPermissionPassesAndEveryRefusalIsCounted()
    {
        var now = DateTimeOffset.UtcNow;
        using var otherCaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var otherCaRequest = new CertificateRequest("CN=api-test-ca", otherCaKey, HashAlgorithmName.SHA256);
        otherCaRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var otherCa = otherCaRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        var identities = new (string Name, X509Certificate2? Certificate)[]
        {
            ("none", null),
            ("untrusted", GrpcCallMatrix.Issue(otherCa, new X500DistinguishedName("CN=writer"), now.AddHours(-1), now.AddDays(10))),
            ("expired", GrpcCallMatrix.Issue(_ca, new X500DistinguishedName("CN=writer"), now.AddDays(-10), now.AddDays(-1))),
            ("unlisted", GrpcCallMatrix.Issue(_ca, new X500DistinguishedName("CN=stranger"), now.AddHours(-1), now.AddDays(10))),
            ("read", GrpcCallMatrix.Issue(_ca, new X500DistinguishedName("CN=reader"), now.AddHours(-1), now.AddDays(10))),
            ("read (Grpc:Clients)", GrpcCallMatrix.Issue(_ca, new X500DistinguishedName("CN=legacy"), now.AddHours(-1), now.AddDays(10))),
            ("write", GrpcCallMatrix.Issue(_ca, new X500DistinguishedName("CN=writer"), now.AddHours(-1), now.AddDays(10))),
            ("two CNs", GrpcCallMatrix.Issue(_ca, TwoCommonNames("stranger", "writer"), now.AddHours(-1), now.AddDays(10))),
            ("no CN", GrpcCallMatrix.Issue(_ca, new X500DistinguishedName("O=writer, OU=writer"), now.AddHours(-1), now.AddDays(10))),
        };
        var declared = ControlPlaneService.Descriptor.Methods.ToDictionary(m => m.Name, m => DeclaredPermission(m.Name));
        var before = await ScrapeAsync();
        var expectedCounts = new Dictionary<string, int>();
        var failures = new List<string>();

        foreach (var (identity, certificate) in identities)
        {
            using var http = GrpcCallMatrix.Client(certificate, _ca);
            foreach (var (path, method) in GrpcCallMatrix.Methods(ControlPlaneService.Descriptor))
            {
                foreach (var (variant, make) in GrpcCallMatrix.PathVariants)
                {
                    string? reason = ExpectedRefusal(identity, variant, declared[method.Name]);
                    var (status, message) = await GrpcCallMatrix.CallAsync(http, _api, make(path));
                    if (reason != null)
                        expectedCounts[reason] = expectedCounts.GetValueOrDefault(reason) + 1;
                    bool ok = reason switch
                    {
                        null => status is not (null or 7 or 16 or 12) && status < 1000,
                        "untrusted" or "expired" => status == null,
                        "no_certificate" => status == 16,
                        _ => status == 7,
                    };
                    if (!ok)
                        failures.Add($"{identity} {variant} {make(path)}: expected {reason ?? "through"}, got {status?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "TLS refused"} {message}");
                }
            }
        }

        foreach (var (_, certificate) in identities)
            certificate?.Dispose();
        Assert.True(failures.Count == 0, $"{failures.Count} calls went wrong:\n" + string.Join("\n", failures));
        var after = await Eventually.UntilAsync(
            _ => ScrapeAsync(),
            m => expectedCounts.All(e => Count(m, e.Key) - Count(before, e.Key) >= e.Value),
            Deadline,
            m => string.Join('\n', m.Split('\n').Where(l => l.StartsWith("mailagent_cp_api_rejections_total", StringComparison.Ordinal))));
        foreach (var reason in GrpcRejectionReason.All.Except(["untrusted", "expired"]))
            Assert.True(expectedCounts.GetValueOrDefault(reason) == Count(after, reason) - Count(before, reason),
                $"{reason}: expected {expectedCounts.GetValueOrDefault(reason)} more, counted {Count(after, reason) - Count(before, reason)}");
        Assert.Equal(["expired", "no_certificate", "no_common_name", "non_canonical_path", "not_allowed", "several_common_names", "untrusted"], expectedCounts.Keys.Order());
        // Only the writer's calls reached the roll-out, and they were empty requests (refused as invalid before any agent was touched).
        Assert.Empty(_target.Applied);
    }

    [Theory]
    [InlineData("reader")]
    [InlineData("legacy")]
    public async Task RollOutConfig_ReadClient_PermissionDeniedAndNothingApplied(string commonName)
    {
        var now = DateTimeOffset.UtcNow;
        using var certificate = GrpcCallMatrix.Issue(_ca, new X500DistinguishedName("CN=" + commonName), now.AddHours(-1), now.AddDays(10));
        using var channel = Channel(certificate);
        var client = new ControlPlaneService.ControlPlaneServiceClient(channel);
        var request = new RollOutConfigRequest { Agents = { "postfix-a" }, Set = { ["relayhost"] = "[evil.example]:25" } };

        var agents = await client.ListAgentsAsync(new ListAgentsRequest(), deadline: DateTime.UtcNow.Add(Deadline));
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = client.RollOutConfig(request, deadline: DateTime.UtcNow.Add(Deadline));
            await call.ResponseStream.MoveNext(CancellationToken.None);
        });

        Assert.Equal("postfix-a", Assert.Single(agents.Agents).Name);
        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Contains("Grpc:WriteClients", e.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(_target.Applied);
    }

    [Fact]
    public async Task RollOutConfig_WriteClient_ReachesTheAgents()
    {
        var now = DateTimeOffset.UtcNow;
        using var certificate = GrpcCallMatrix.Issue(_ca, new X500DistinguishedName("CN=writer"), now.AddHours(-1), now.AddDays(10));
        using var channel = Channel(certificate);
        var client = new ControlPlaneService.ControlPlaneServiceClient(channel);
        var request = new RollOutConfigRequest { Agents = { "postfix-a" }, Set = { ["smtpd_banner"] = "$myhostname ESMTP" }, SoakTime = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.Zero) };

        using var call = client.RollOutConfig(request, deadline: DateTime.UtcNow.Add(Deadline));
        var steps = new List<RollOutStep>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
            steps.Add(call.ResponseStream.Current.Step);

        Assert.Equal("postfix-a", Assert.Single(_target.Applied));
        Assert.Contains(RollOutStep.Done, steps);
    }

    private static GrpcPermission DeclaredPermission(string method)
    {
        var attribute = typeof(ControlPlaneGrpcService).GetMethod(method)?
            .GetCustomAttributes(typeof(RequiresPermissionAttribute), inherit: false).Cast<RequiresPermissionAttribute>().SingleOrDefault();
        Assert.True(attribute != null, $"{method} declares no [RequiresPermission]: nobody can call it; declare read or write");
        return attribute.Permission;
    }

    private static string? ExpectedRefusal(string identity, string variant, GrpcPermission needed) => identity switch
    {
        "untrusted" => "untrusted",
        "expired" => "expired",
        _ when variant != "canonical" => "non_canonical_path",
        "none" => "no_certificate",
        "two CNs" => "several_common_names",
        "no CN" => "no_common_name",
        "read" or "read (Grpc:Clients)" when needed == GrpcPermission.Read => null,
        "write" when needed == GrpcPermission.Write => null,
        _ => "not_allowed",
    };

    private static X500DistinguishedName TwoCommonNames(string first, string second)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddCommonName(first);
        builder.AddCommonName(second);
        return builder.Build();
    }

    private X509Certificate2 Server(DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=control-plane-api", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var issued = request.Create(_ca, now.AddHours(-1), now.AddDays(10), RandomNumberGenerator.GetBytes(8));
        return issued.CopyWithPrivateKey(key);
    }

    private void WritePair(X509Certificate2 certificate, string name)
    {
        using (certificate)
        {
            File.WriteAllText(InDir(name + ".crt"), certificate.ExportCertificatePem());
            File.WriteAllText(InDir(name + ".key"), certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        }
    }

    private string InDir(string file) => System.IO.Path.Combine(_dir, file);

    private GrpcChannel Channel(X509Certificate2 certificate) =>
        GrpcChannel.ForAddress(new Uri($"https://localhost:{_api.Port}"), new GrpcChannelOptions { HttpClient = GrpcCallMatrix.Client(certificate, _ca), DisposeHttpClient = true });

    private async Task<string> ScrapeAsync()
    {
        using var http = new HttpClient { Timeout = Deadline };
        return await http.GetStringAsync(new Uri(_http, "/metrics"));
    }

    private static double Count(string metrics, string reason)
    {
        string prefix = $"mailagent_cp_api_rejections_total{{reason=\"{reason}\"}} ";
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return line == null ? 0 : double.Parse(line[prefix.Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Records the agents a roll-out applied to; every agent applies and stays healthy.</summary>
    private sealed class RecordingTarget : IRolloutTarget
    {
        public List<string> Applied { get; } = [];

        public bool Exists(string agent) => agent == "postfix-a";

        public Task<ApplyConfigResponse> ApplyConfigAsync(string agent, ApplyConfigRequest request, CancellationToken cancellationToken)
        {
            lock (Applied)
                Applied.Add(agent);
            return Task.FromResult(new ApplyConfigResponse { Result = ApplyResult.Applied });
        }

        public bool IsHealthy(string agent, out string reason)
        {
            reason = "";
            return true;
        }

        public void SetChangeInProgress(string agent, DateTimeOffset? startedAt)
        {
        }
    }
}
