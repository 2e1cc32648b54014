using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using MailAgent.Certificates;
using MailAgent.Protos.V1;
using MailAgent.Tests.Integration.Agent;
using MailAgent.Tests.Integration.Postfix;

namespace MailAgent.Tests.Integration.Grpc;

/// <summary>The real daemon's gRPC API over TLS with client certificates made by <c>pki init</c>'s code.</summary>
[Trait("Category", "Integration")]
public sealed class AgentGrpcTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mailagent-grpc-" + Guid.NewGuid().ToString("N"));
    private PkiFiles _pki = null!;
    private X509Certificate2 _ca = null!;
    private AgentProcess _agent = null!;
    private Uri _grpc = null!;
    private int _line;

    private string LogPath => Path.Combine(_dir, "mail.log");

    private string PostfixDirectory => Path.Combine(_dir, "postfix");

    private string AuditLogPath => Path.Combine(_dir, "config-audit.log");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        // Issued as if 20 days ago, so the CA can also sign a client certificate that has already expired.
        var issuedAt = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(-20));
        _pki = AgentPki.Init(Path.Combine(_dir, "pki"), "agent-test", "control-plane", 60, [], issuedAt);
        _ca = X509Certificate2.CreateFromPemFile(_pki.CaCertificate, _pki.CaKey);
        await File.WriteAllTextAsync(LogPath, "");
        Directory.CreateDirectory(PostfixDirectory);
        // No Postfix runs here: a queue directory that does not exist keeps postqueue failing (GetQueue has no snapshot).
        await File.WriteAllTextAsync(Path.Combine(PostfixDirectory, "main.cf"), $"queue_directory = {Path.Combine(_dir, "no-queue")}\nrelayhost = [relay.example]:587\n");
        _agent = await AgentProcess.StartAsync(
            $"Postfix:ConfigDirectory={PostfixDirectory}", $"ConfigApply:AuditLogPath={AuditLogPath}",
            $"LogTailing:Path={LogPath}", $"LogTailing:StateDirectory={Path.Combine(_dir, "state")}",
            "Grpc:Listen=127.0.0.1:0", $"Grpc:CaFile={_pki.CaCertificate}", $"Grpc:CertificateFile={_pki.AgentCertificate}",
            $"Grpc:KeyFile={_pki.AgentKey}", "Grpc:ReadClients=control-plane,observer", "Grpc:WriteClients=admin");
        _grpc = await _agent.GrpcAddressAsync();
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        _ca.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [ServerFact("postfix")]
    public async Task GetStatus_TrustedClient_ReportsIdentityAndTheHealthChecks()
    {
        using var channel = Channel(Client("control-plane"));
        var client = new AgentService.AgentServiceClient(channel);

        var status = await client.GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.Add(Deadline));

        Assert.False(string.IsNullOrEmpty(status.Hostname));
        Assert.False(string.IsNullOrEmpty(status.AgentVersion));
        // The agent waits for the first health checks before it starts listening, so every check has a verdict.
        Assert.Contains(status.Checks, c => c.Name == "log");
        Assert.Contains(status.Checks, c => c.Name == "postfix");
        Assert.All(status.Checks, c => Assert.NotEqual(HealthStatus.Unknown, c.Status));
        Assert.Equal(status.Checks.Max(c => c.Status), status.Health);
        // The disk check carries its measured figure (free percent) for the control plane's score.
        Assert.Contains(status.Checks, c => c.Name == "disk" && c.HasValue && c.Value is > 0 and <= 100);
        Assert.True(status.Uptime.ToTimeSpan() >= TimeSpan.Zero);
    }

    [ServerFact("postfix")]
    public async Task HealthCheck_OverallFollowsTheChecks_AgentServiceServes()
    {
        using var channel = Channel(Client("observer"));
        var health = new global::Grpc.Health.V1.Health.HealthClient(channel);
        var status = await new AgentService.AgentServiceClient(channel).GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.Add(Deadline));

        var overall = await health.CheckAsync(new HealthCheckRequest { Service = "" }, deadline: DateTime.UtcNow.Add(Deadline));
        var agent = await health.CheckAsync(new HealthCheckRequest { Service = "mailagent.v1.AgentService" }, deadline: DateTime.UtcNow.Add(Deadline));
        var log = await health.CheckAsync(new HealthCheckRequest { Service = "log" }, deadline: DateTime.UtcNow.Add(Deadline));

        // Unhealthy is NOT_SERVING; healthy and degraded serve. This test's agent has no Postfix to check, so either can occur.
        var expected = status.Health == HealthStatus.Unhealthy ? HealthCheckResponse.Types.ServingStatus.NotServing : HealthCheckResponse.Types.ServingStatus.Serving;
        Assert.Equal(expected, overall.Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, agent.Status);
        var logCheck = status.Checks.Single(c => c.Name == "log");
        Assert.Equal(logCheck.Status == HealthStatus.Unhealthy ? HealthCheckResponse.Types.ServingStatus.NotServing : HealthCheckResponse.Types.ServingStatus.Serving, log.Status);
    }

    [ServerFact("postfix")]
    public async Task GetQueue_NoSnapshotSource_IsUnavailable()
    {
        using var channel = Channel(Client("control-plane"));
        var client = new AgentService.AgentServiceClient(channel);

        var e = await Assert.ThrowsAsync<RpcException>(() => client.GetQueueAsync(new GetQueueRequest(), deadline: DateTime.UtcNow.Add(Deadline)).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
    }

    [ServerFact("postfix")]
    public async Task ApplyConfig_AllowedWriter_RunsTheApplierAndIsAudited_ReadOnlyClientRefused()
    {
        using var writer = Channel(Client("admin"));
        using var reader = Channel(Client("control-plane"));
        var client = new AgentService.AgentServiceClient(writer);
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(PostfixDirectory, "main.cf"))));
        var request = new ApplyConfigRequest { ExpectedConfigHash = hash, IdempotencyKey = "grpc-1" };
        request.Set.Add("mynetworks", "0.0.0.0/0");

        var status = await new AgentService.AgentServiceClient(reader).GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.Add(Deadline));
        var reply = await client.ApplyConfigAsync(request, deadline: DateTime.UtcNow.Add(Deadline));
        var refused = await Assert.ThrowsAsync<RpcException>(() => new AgentService.AgentServiceClient(reader).ApplyConfigAsync(request, deadline: DateTime.UtcNow.Add(Deadline)).ResponseAsync);

        Assert.Equal(hash, status.ConfigHash);
        Assert.Equal(ApplyResult.Rejected, reply.Result);
        Assert.Contains("mynetworks is not on the allow-list", reply.Reason, StringComparison.Ordinal);
        Assert.Equal(hash, reply.ConfigHash);
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        var audit = System.Text.Json.JsonDocument.Parse(Assert.Single(File.ReadAllLines(AuditLogPath))).RootElement;
        Assert.StartsWith("CN=admin,", audit.GetProperty("who").GetString(), StringComparison.Ordinal);
        Assert.Equal("grpc-1", audit.GetProperty("idempotency_key").GetString());
        Assert.Equal("rejected", audit.GetProperty("result").GetString());
    }

    [ServerFact("postfix")]
    public async Task WatchEvents_DeliveriesThenReconnect_EachEventOnceInOrder()
    {
        using var channel = Channel(Client("control-plane"));
        var client = new AgentService.AgentServiceClient(channel);

        // First connection: three outcomes, in the order written. Health changes share the stream and are skipped here.
        ulong lastSeen;
        var all = new List<AgentEvent>();
        using (var first = client.WatchEvents(new WatchEventsRequest(), deadline: DateTime.UtcNow.Add(Deadline)))
        {
            await AppendAsync(Delivery("sent", "2.0.0", "mx.example.net[192.0.2.10]:25"),
                Delivery("deferred", "4.4.1", "mx.example.org[192.0.2.11]:25"),
                Delivery("bounced", "5.1.1", "mx.example.com[192.0.2.12]:25"));
            var events = await ReadDeliveriesAsync(first.ResponseStream, 3, all);
            lastSeen = events[^1].Sequence;

            Assert.Equal([DeliveryOutcome.Sent, DeliveryOutcome.Deferred, DeliveryOutcome.Bounced], events.Select(e => e.Delivery.Outcome));
            Assert.Equal(["mx.example.net", "mx.example.org", "mx.example.com"], events.Select(e => e.Delivery.RelayDomain));
            Assert.Equal(["2.0.0", "4.4.1", "5.1.1"], events.Select(e => e.Delivery.Dsn));
            Assert.All(events, e => Assert.Equal("postfix/smtp", e.Delivery.Service));
        }

        // While disconnected: two more. Reconnecting after the last seen gets those two, then the next live one.
        await AppendAsync(Delivery("sent", "2.0.0", "a.example.net[192.0.2.20]:25"), Delivery("sent", "2.0.0", "b.example.net[192.0.2.21]:25"));
        using var second = client.WatchEvents(new WatchEventsRequest { ResumeAfter = lastSeen }, deadline: DateTime.UtcNow.Add(Deadline));
        var resumedFrom = all.Count;
        var missed = await ReadDeliveriesAsync(second.ResponseStream, 2, all);
        await AppendAsync(Delivery("deferred", "4.7.0", "c.example.net[192.0.2.22]:25"));
        var live = await ReadDeliveriesAsync(second.ResponseStream, 1, all);

        Assert.Equal(["a.example.net", "b.example.net"], missed.Select(e => e.Delivery.RelayDomain));
        Assert.Equal("c.example.net", live[0].Delivery.RelayDomain);
        // Each event once, in order, on both connections; the second starts right after the last seen.
        Assert.Equal(lastSeen + 1, all[resumedFrom].Sequence);
        var sequences = all.Select(e => e.Sequence).ToList();
        Assert.Equal(sequences.Order(), sequences);
        Assert.Equal(sequences.Count, sequences.Distinct().Count());
        Assert.Equal(Enumerable.Range((int)sequences[0], sequences.Count).Select(i => (ulong)i), sequences);
    }

    [ServerFact("postfix")]
    public async Task WatchEvents_HeartbeatAsked_StatusOnScheduleWhetherOrNotEventsFlow()
    {
        using var channel = Channel(Client("control-plane"));
        var client = new AgentService.AgentServiceClient(channel);
        using var watch = client.WatchEvents(
            new WatchEventsRequest { HeartbeatInterval = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(1)) },
            deadline: DateTime.UtcNow.Add(Deadline));
        var heartbeats = new List<Heartbeat>();
        AgentEvent? delivery = null;
        await AppendAsync(Delivery("sent", "2.0.0", "mx.example.net[192.0.2.10]:25"));
        // Three heartbeats, at least one after the delivery: a quiet stream still beats, a busy one too.
        while (heartbeats.Count < 3 || delivery == null || heartbeats[^1].LastSequence < delivery.Sequence)
        {
            Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None), "the stream ended");
            var message = watch.ResponseStream.Current;
            if (message.KindCase == WatchEventsResponse.KindOneofCase.Heartbeat)
                heartbeats.Add(message.Heartbeat);
            else if (message.Event is { KindCase: AgentEvent.KindOneofCase.Delivery } e)
                delivery = e;
        }

        Assert.All(heartbeats, h => Assert.Contains(h.Status.Checks, c => c.Name == "log"));
        Assert.All(heartbeats, h => Assert.False(string.IsNullOrEmpty(h.Status.Hostname)));
        // No queue snapshot in this fixture (postqueue fails): the heartbeat says so by leaving it out.
        Assert.All(heartbeats, h => Assert.Null(h.Queue));
        Assert.Equal(heartbeats.Select(h => h.At.ToDateTimeOffset()).Order(), heartbeats.Select(h => h.At.ToDateTimeOffset()));
        Assert.Equal(heartbeats.Count, heartbeats.Select(h => h.At).Distinct().Count());
    }

    [ServerFact("postfix")]
    public async Task Rejections_NoCertOtherCaExpiredNotAllowed_AreRejectedAndCounted()
    {
        using var otherCa = AgentPki.CreateCa("other CA", DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30));
        var now = DateTimeOffset.UtcNow;
        using var foreign = Reloaded(AgentPki.IssueClient(otherCa, "control-plane", now.AddMinutes(-5), now.AddDays(10)));
        using var expired = Reloaded(AgentPki.IssueClient(_ca, "control-plane", now.AddDays(-10), now.AddDays(-1)));
        using var stranger = Client("stranger");
        using var reader = Client("control-plane");

        var none = await CallStatusAsync(null);
        var other = await CallStatusAsync(foreign);
        var old = await CallStatusAsync(expired);
        var notAllowed = await CallStatusAsync(stranger);
        using var readerChannel = Channel(reader);
        var write = await Assert.ThrowsAsync<RpcException>(() => new AgentService.AgentServiceClient(readerChannel)
            .ApplyConfigAsync(new ApplyConfigRequest(), deadline: DateTime.UtcNow.Add(Deadline)).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, none.StatusCode);
        Assert.NotEqual(StatusCode.OK, other.StatusCode);
        Assert.NotEqual(StatusCode.OK, old.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, notAllowed.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, write.StatusCode);
        var metrics = await Eventually.UntilAsync(
            _ => _agent.ScrapeAsync(),
            m => Count(m, "no_certificate") >= 1 && Count(m, "untrusted") >= 1 && Count(m, "expired") >= 1 && Count(m, "not_allowed") >= 2,
            Deadline,
            m => string.Join('\n', m.Split('\n').Where(l => l.StartsWith("mailagent_grpc_rejections_total", StringComparison.Ordinal))));
        Assert.True(Count(metrics, "not_allowed") >= 2);
        Assert.Contains("gRPC caller rejected (expired)", _agent.Output, StringComparison.Ordinal);
        Assert.Contains("gRPC caller rejected (untrusted)", _agent.Output, StringComparison.Ordinal);
    }

    [ServerFact("postfix")]
    public async Task EveryMethod_EveryIdentityAndPathVariant_OnlyTheDeclaredPermissionPassesAndEveryRefusalIsCounted()
    {
        var now = DateTimeOffset.UtcNow;
        using var otherCa = AgentPki.CreateCa("control-plane", now.AddMinutes(-5), now.AddDays(30));
        var identities = new (string Name, X509Certificate2? Certificate)[]
        {
            ("none", null),
            ("untrusted", Reloaded(AgentPki.IssueClient(otherCa, "admin", now.AddMinutes(-5), now.AddDays(10)))),
            ("expired", Reloaded(AgentPki.IssueClient(_ca, "admin", now.AddDays(-10), now.AddDays(-1)))),
            ("unlisted", Client("stranger")),
            ("read", Client("control-plane")),
            ("write", Client("admin")),
            // The last CN used to win: the allowed name last.
            ("two CNs", GrpcCallMatrix.Issue(_ca, Subject("CN=stranger", "CN=admin"), now.AddMinutes(-5), now.AddDays(10))),
            ("no CN", GrpcCallMatrix.Issue(_ca, Subject("O=admin", "OU=admin"), now.AddMinutes(-5), now.AddDays(10))),
        };
        var methods = GrpcCallMatrix.Methods(AgentService.Descriptor, global::Grpc.Health.V1.Health.Descriptor);
        var declared = methods.ToDictionary(m => m.Path, m => DeclaredPermission(m.Method));
        var before = await _agent.ScrapeAsync();
        var expectedCounts = new Dictionary<string, int>();
        var failures = new List<string>();

        foreach (var (identity, certificate) in identities)
        {
            using var http = GrpcCallMatrix.Client(certificate, _ca);
            foreach (var (path, method) in methods)
            {
                foreach (var (variant, make) in GrpcCallMatrix.PathVariants)
                {
                    string? reason = ExpectedRefusal(identity, variant, declared[path]);
                    var (status, message) = await GrpcCallMatrix.CallAsync(http, _grpc, make(path));
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
        // Every refusal counted under its reason: exactly, except that a refused handshake may be tried again by the client.
        var after = await Eventually.UntilAsync(
            _ => _agent.ScrapeAsync(),
            m => expectedCounts.All(e => Count(m, e.Key) - Count(before, e.Key) >= e.Value),
            Deadline,
            m => string.Join('\n', m.Split('\n').Where(l => l.StartsWith("mailagent_grpc_rejections_total", StringComparison.Ordinal))));
        foreach (var reason in new[] { "no_certificate", "not_allowed", "non_canonical_path", "several_common_names", "no_common_name", "undeclared_permission", "unknown_method", "pin_mismatch" })
            Assert.True(expectedCounts.GetValueOrDefault(reason) == Count(after, reason) - Count(before, reason),
                $"{reason}: expected {expectedCounts.GetValueOrDefault(reason)} more, counted {Count(after, reason) - Count(before, reason)}");
        Assert.Equal(["expired", "no_certificate", "no_common_name", "non_canonical_path", "not_allowed", "several_common_names", "untrusted"], expectedCounts.Keys.Order());
    }

    /// <summary>The permission a method declares on the service class; grpc.health.v1 is mapped as read. A method declaring none fails the test.</summary>
    private static global::MailAgent.Common.GrpcPermission DeclaredPermission(Google.Protobuf.Reflection.MethodDescriptor method)
    {
        if (method.Service.FullName == "grpc.health.v1.Health")
            return global::MailAgent.Common.GrpcPermission.Read;
        var attribute = typeof(MailAgent.Grpc.AgentGrpcService).GetMethod(method.Name)?
            .GetCustomAttributes(typeof(global::MailAgent.Common.RequiresPermissionAttribute), inherit: false).Cast<global::MailAgent.Common.RequiresPermissionAttribute>().SingleOrDefault();
        Assert.True(attribute != null, $"{method.FullName} declares no [RequiresPermission]: nobody can call it; declare read or write");
        return attribute.Permission;
    }

    private static string? ExpectedRefusal(string identity, string variant, global::MailAgent.Common.GrpcPermission needed) => identity switch
    {
        "untrusted" => "untrusted",
        "expired" => "expired",
        _ when variant != "canonical" => "non_canonical_path",
        "none" => "no_certificate",
        "two CNs" => "several_common_names",
        "no CN" => "no_common_name",
        "read" when needed == global::MailAgent.Common.GrpcPermission.Read => null,
        "write" when needed == global::MailAgent.Common.GrpcPermission.Write => null,
        _ => "not_allowed",
    };

    private static X500DistinguishedName Subject(params string[] names)
    {
        var builder = new X500DistinguishedNameBuilder();
        foreach (var name in names)
        {
            var (key, value) = (name[..name.IndexOf('=', StringComparison.Ordinal)], name[(name.IndexOf('=', StringComparison.Ordinal) + 1)..]);
            if (key == "CN")
                builder.AddCommonName(value);
            else if (key == "O")
                builder.AddOrganizationName(value);
            else
                builder.AddOrganizationalUnitName(value);
        }

        return builder.Build();
    }

    [ServerFact("postfix")]
    public async Task WatchEvents_MissedEventsFellOutOfTheRing_ToldFirstThenGetsTheOldestHeld()
    {
        string log = Path.Combine(_dir, "small-ring.log");
        await File.WriteAllTextAsync(log, "");
        await using var agent = await AgentProcess.StartAsync(
            $"LogTailing:Path={log}", $"LogTailing:StateDirectory={Path.Combine(_dir, "small-ring-state")}",
            "Grpc:Listen=127.0.0.1:0", $"Grpc:CaFile={_pki.CaCertificate}", $"Grpc:CertificateFile={_pki.AgentCertificate}",
            $"Grpc:KeyFile={_pki.AgentKey}", "Grpc:ReadClients=control-plane", "Grpc:EventBufferSize=100");
        await AppendToAsync(log, Enumerable.Range(0, 150).Select(_ => Delivery("sent", "2.0.0", "mx.example.net[192.0.2.10]:25")).ToArray());
        await Eventually.UntilAsync(
            _ => agent.ScrapeAsync(),
            m => AgentProcess.Value(m, "postfix_delivery_status_total") >= 150,
            Deadline,
            m => $"{AgentProcess.Value(m, "postfix_delivery_status_total")} deliveries counted");
        using var channel = Channel(Client("control-plane"), await agent.GrpcAddressAsync());
        var client = new AgentService.AgentServiceClient(channel);

        using var watch = client.WatchEvents(new WatchEventsRequest { ResumeAfter = 10 }, deadline: DateTime.UtcNow.Add(Deadline));
        using var timeout = new CancellationTokenSource(Deadline);
        Assert.True(await watch.ResponseStream.MoveNext(timeout.Token));
        var lost = watch.ResponseStream.Current;
        var held = await ReadEventsAsync(watch.ResponseStream, 100);

        // 150 deliveries plus the health changes (first verdicts) in a ring of 100: the oldest held is past 51.
        Assert.Equal(WatchEventsResponse.KindOneofCase.EventsLost, lost.KindCase);
        Assert.Equal(11UL, lost.EventsLost.FirstMissed);
        Assert.True(lost.EventsLost.FirstAvailable >= 51, $"first available {lost.EventsLost.FirstAvailable}");
        Assert.Equal(Enumerable.Range((int)lost.EventsLost.FirstAvailable, 100).Select(i => (ulong)i), held.Select(e => e.Sequence));
    }

    [ServerFact("postfix")]
    public async Task HealthCheck_PostfixStoppedAndStarted_NotServingWithinFiveSecondsAndWatchEventsSeesIt()
    {
        const string postfixCommand = "/usr/sbin/postfix";
        var react = TimeSpan.FromSeconds(5);
        var start = TimeSpan.FromSeconds(60);
        await using var postfix = await PrivatePostfix.StartAsync();
        await using var agent = await AgentProcess.StartAsync(
            $"LogTailing:Path={postfix.LogPath}", $"LogTailing:StateDirectory={Path.Combine(_dir, "postfix-state")}",
            "LogTailing:PollInterval=00:00:00.200",
            $"Postfix:PostfixPath={postfixCommand}", $"Postfix:ConfigDirectory={postfix.ConfigDirectory}",
            $"Health:SmtpEndpoints=127.0.0.1:{postfix.SmtpPort}", $"Health:MilterAddress=127.0.0.1:{postfix.MilterPort}",
            $"Health:QueueDirectory={postfix.QueueDirectory}", "Health:Interval=00:00:00.500", "Health:CheckTimeout=00:00:03",
            "Grpc:Listen=127.0.0.1:0", $"Grpc:CaFile={_pki.CaCertificate}", $"Grpc:CertificateFile={_pki.AgentCertificate}",
            $"Grpc:KeyFile={_pki.AgentKey}", "Grpc:ReadClients=control-plane");
        using var channel = Channel(Client("control-plane"), await agent.GrpcAddressAsync());
        var health = new global::Grpc.Health.V1.Health.HealthClient(channel);
        var client = new AgentService.AgentServiceClient(channel);
        await UntilServingAsync(health, "postfix", HealthCheckResponse.Types.ServingStatus.Serving, start);
        using var watch = client.WatchEvents(new WatchEventsRequest(), deadline: DateTime.UtcNow.AddMinutes(3));
        // The first verdicts are on the stream already: postfix healthy.
        await ReadHealthChangeAsync(watch.ResponseStream, "postfix", HealthStatus.Healthy);

        await postfix.StopMailSystemAsync();
        await UntilServingAsync(health, "postfix", HealthCheckResponse.Types.ServingStatus.NotServing, react);
        var overall = await health.CheckAsync(new HealthCheckRequest { Service = "" }, deadline: DateTime.UtcNow.Add(Deadline));
        var down = await ReadHealthChangeAsync(watch.ResponseStream, "postfix", HealthStatus.Unhealthy);

        await postfix.StartMailSystemAsync();
        await UntilServingAsync(health, "postfix", HealthCheckResponse.Types.ServingStatus.Serving, start);
        var up = await ReadHealthChangeAsync(watch.ResponseStream, "postfix", HealthStatus.Healthy);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, overall.Status);
        Assert.False(string.IsNullOrEmpty(down.HealthChange.Reason));
        Assert.True(up.Sequence > down.Sequence);
    }

    private static async Task UntilServingAsync(global::Grpc.Health.V1.Health.HealthClient health, string service, HealthCheckResponse.Types.ServingStatus expected, TimeSpan deadline) =>
        await Eventually.UntilAsync(
            async ct => (await health.CheckAsync(new HealthCheckRequest { Service = service }, deadline: DateTime.UtcNow.Add(Deadline), cancellationToken: ct)).Status,
            status => status == expected,
            deadline,
            status => $"grpc.health.v1 '{service}' is {status}, not {expected}");

    /// <summary>Reads the stream until a health change of <paramref name="name"/> to <paramref name="status"/>.</summary>
    private static async Task<AgentEvent> ReadHealthChangeAsync(IAsyncStreamReader<WatchEventsResponse> stream, string name, HealthStatus status)
    {
        var seen = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            Assert.True(await stream.MoveNext(timeout.Token), $"stream ended; health changes seen: {string.Join(", ", seen)}");
            if (stream.Current.KindCase != WatchEventsResponse.KindOneofCase.Event || stream.Current.Event.KindCase != AgentEvent.KindOneofCase.HealthChange)
                continue;
            var change = stream.Current.Event.HealthChange;
            seen.Add($"{change.Name}={change.Status}");
            if (change.Name == name && change.Status == status)
                return stream.Current.Event;
        }
    }

    [ServerFact("postfix")]
    public async Task MetricsListener_GrpcPath_IsNotServedOverPlainHttp()
    {
        using var http = new HttpClient();

        using var response = await http.PostAsync(new Uri(_agent.BaseAddress, "/mailagent.v1.AgentService/GetStatus"), new ByteArrayContent([]));

        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }

    private static double Count(string metrics, string reason) =>
        AgentProcess.Value(metrics, "mailagent_grpc_rejections_total", $"reason=\"{reason}\"");

    private async Task<RpcException> CallStatusAsync(X509Certificate2? certificate)
    {
        using var channel = Channel(certificate);
        var client = new AgentService.AgentServiceClient(channel);
        return await Assert.ThrowsAsync<RpcException>(() => client.GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.Add(Deadline)).ResponseAsync);
    }

    private X509Certificate2 Client(string commonName)
    {
        var now = DateTimeOffset.UtcNow;
        return Reloaded(AgentPki.IssueClient(_ca, commonName, now.AddMinutes(-5), now.AddDays(10)));
    }

    /// <summary>A PKCS#12 round trip gives the key a form SslStream can use for client authentication.</summary>
    private static X509Certificate2 Reloaded(X509Certificate2 certificate)
    {
        using (certificate)
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    private GrpcChannel Channel(X509Certificate2? clientCertificate, Uri? address = null)
    {
        var ssl = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, server, _, _) => server != null && ChainsToCa(server),
        };
        if (clientCertificate != null)
        {
            ssl.ClientCertificates = new X509CertificateCollection { clientCertificate };
            ssl.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }

        var handler = new SocketsHttpHandler { SslOptions = ssl };
        return GrpcChannel.ForAddress(address ?? _grpc, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
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

    private string Delivery(string status, string dsn, string relay)
    {
        int n = Interlocked.Increment(ref _line);
        string queueId = $"{0xA0000 + n:X5}D{n:X4}";
        return $"Nov 28 03:10:{n % 60:00} mail-test postfix/smtp[{2000 + n}]: {queueId}: to=<user{n}@example.test>, relay={relay}, delay=0.5, delays=0.1/0/0.2/0.2, dsn={dsn}, status={status} (reply {n})";
    }

    private Task AppendAsync(params string[] lines) => AppendToAsync(LogPath, lines);

    private static async Task AppendToAsync(string path, params string[] lines)
    {
        await File.AppendAllTextAsync(path, string.Join('\n', lines) + "\n");
    }

    /// <summary>Reads until <paramref name="count"/> delivery events came; every event read is added to <paramref name="all"/>.</summary>
    private static async Task<List<AgentEvent>> ReadDeliveriesAsync(IAsyncStreamReader<WatchEventsResponse> stream, int count, List<AgentEvent> all)
    {
        var deliveries = new List<AgentEvent>();
        while (deliveries.Count < count)
        {
            var next = (await ReadEventsAsync(stream, 1))[0];
            all.Add(next);
            if (next.KindCase == AgentEvent.KindOneofCase.Delivery)
                deliveries.Add(next);
        }

        return deliveries;
    }

    private static async Task<List<AgentEvent>> ReadEventsAsync(IAsyncStreamReader<WatchEventsResponse> stream, int count)
    {
        var events = new List<AgentEvent>();
        using var timeout = new CancellationTokenSource(Deadline);
        while (events.Count < count)
        {
            Assert.True(await stream.MoveNext(timeout.Token), $"stream ended after {events.Count} of {count} events");
            Assert.Equal(WatchEventsResponse.KindOneofCase.Event, stream.Current.KindCase);
            events.Add(stream.Current.Event);
        }

        return events;
    }
}
