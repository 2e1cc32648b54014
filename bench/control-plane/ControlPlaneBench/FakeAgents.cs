using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MailAgent.Protos.V1;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace ControlPlaneBench;

/// <summary>One simulated agent's state: whether it streams load, and its postfix check (the latency probe flips it).</summary>
internal sealed class FakeAgent(int index, int port)
{
    private ulong _sequence;

    public int Index { get; } = index;

    public int Port { get; } = port;

    public volatile bool PostfixUnhealthy;

    /// <summary>Health changes to send on the stream at once.</summary>
    public ConcurrentQueue<HealthChangeEvent> Pending { get; } = new();

    public ulong NextSequence() => Interlocked.Increment(ref _sequence);

    public ulong LastSequence => Interlocked.Read(ref _sequence);

    public GetStatusResponse Status(DateTimeOffset started, DateTimeOffset now)
    {
        var status = new GetStatusResponse
        {
            Hostname = $"agent-{Index:00000}",
            AgentVersion = "bench",
            PostfixVersion = "3.7.11",
            StartedAt = Timestamp.FromDateTimeOffset(started),
            Uptime = Duration.FromTimeSpan(now - started),
            Health = PostfixUnhealthy ? HealthStatus.Unhealthy : HealthStatus.Healthy,
        };
        status.Checks.Add(new HealthCheck { Name = "log", Status = HealthStatus.Healthy, Reason = "tailing" });
        status.Checks.Add(new HealthCheck { Name = "postfix", Status = PostfixUnhealthy ? HealthStatus.Unhealthy : HealthStatus.Healthy, Reason = PostfixUnhealthy ? "master not running" : "running" });
        status.Checks.Add(new HealthCheck { Name = "disk", Status = HealthStatus.Healthy, Reason = "ok", Value = 71.5 });
        return status;
    }

    public static GetQueueResponse Queue(DateTimeOffset now)
    {
        var queue = new GetQueueResponse { TakenAt = Timestamp.FromDateTimeOffset(now), ActiveLimit = 20000 };
        queue.Queues.Add(new QueueDepth { Name = "active", Messages = 3, Bytes = 12000, OldestAge = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)) });
        queue.Queues.Add(new QueueDepth { Name = "deferred", Messages = 12, Bytes = 48000, OldestAge = Duration.FromTimeSpan(TimeSpan.FromMinutes(3)) });
        queue.Queues.Add(new QueueDepth { Name = "incoming", Messages = 0, Bytes = 0, OldestAge = Duration.FromTimeSpan(TimeSpan.Zero) });
        return queue;
    }
}

/// <summary>Every simulated agent, and the switch that turns the event load on and off.</summary>
internal sealed class Fleet
{
    public Fleet(IReadOnlyList<int> ports)
    {
        Agents = ports.Select((p, i) => new FakeAgent(i + 1, p)).ToList();
        ByPort = Agents.ToDictionary(a => a.Port);
    }

    public IReadOnlyList<FakeAgent> Agents { get; }

    public IReadOnlyDictionary<int, FakeAgent> ByPort { get; }

    public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;

    public volatile bool Load;

    public int EventsPerSecond { get; init; } = 10;

    public long EventsSent;

    public int OpenStreams;

    public long StatusCalls;

    public long QueueCalls;
}

/// <summary>mailagent.v1.AgentService for every simulated agent (told apart by the local port).</summary>
internal sealed class FakeAgentService(Fleet fleet) : AgentService.AgentServiceBase
{
    private static readonly (DeliveryOutcome Outcome, string Dsn, int Weight)[] Mix =
    [
        (DeliveryOutcome.Sent, "2.0.0", 90),
        (DeliveryOutcome.Deferred, "4.4.1", 3),
        (DeliveryOutcome.Deferred, "4.7.1", 3),
        (DeliveryOutcome.Bounced, "5.1.1", 4),
    ];

    private static FakeAgent Agent(ServerCallContext context, Fleet fleet) =>
        fleet.ByPort[context.GetHttpContext().Connection.LocalPort];

    public override Task<GetStatusResponse> GetStatus(GetStatusRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref fleet.StatusCalls);
        return Task.FromResult(Agent(context, fleet).Status(fleet.Started, DateTimeOffset.UtcNow));
    }

    public override Task<GetQueueResponse> GetQueue(GetQueueRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref fleet.QueueCalls);
        return Task.FromResult(FakeAgent.Queue(DateTimeOffset.UtcNow));
    }

    public override async Task WatchEvents(WatchEventsRequest request, IServerStreamWriter<WatchEventsResponse> stream, ServerCallContext context)
    {
        var agent = Agent(context, fleet);
        var token = context.CancellationToken;
        var heartbeat = request.HeartbeatInterval?.ToTimeSpan() ?? TimeSpan.Zero;
        var nextHeartbeat = DateTimeOffset.UtcNow;
        var tick = TimeSpan.FromMilliseconds(1000.0 / fleet.EventsPerSecond);
        int n = 0;
        Interlocked.Increment(ref fleet.OpenStreams);
        try
        {
            // Start each stream's ticks at a random offset, as real traffic is not in lock-step.
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)tick.TotalMilliseconds + 1)), token);
            using var timer = new PeriodicTimer(tick);
            while (await timer.WaitForNextTickAsync(token))
            {
                var now = DateTimeOffset.UtcNow;
                while (agent.Pending.TryDequeue(out var change))
                {
                    await stream.WriteAsync(new WatchEventsResponse
                    {
                        Event = new AgentEvent { Sequence = agent.NextSequence(), ObservedAt = Timestamp.FromDateTimeOffset(now), HealthChange = change },
                    }, token);
                }

                if (heartbeat > TimeSpan.Zero && now >= nextHeartbeat)
                {
                    await stream.WriteAsync(new WatchEventsResponse
                    {
                        Heartbeat = new Heartbeat { At = Timestamp.FromDateTimeOffset(now), LastSequence = agent.LastSequence, Status = agent.Status(fleet.Started, now), Queue = FakeAgent.Queue(now) },
                    }, token);
                    nextHeartbeat = now + heartbeat;
                }

                if (!fleet.Load)
                    continue;
                var pick = Pick(n++);
                await stream.WriteAsync(new WatchEventsResponse
                {
                    Event = new AgentEvent
                    {
                        Sequence = agent.NextSequence(),
                        ObservedAt = Timestamp.FromDateTimeOffset(now),
                        Delivery = new DeliveryEvent { Outcome = pick.Outcome, Dsn = pick.Dsn, Service = "postfix/smtp", RelayDomain = "mx.example.net", QueueId = $"B{agent.Index:X5}{n:X6}" },
                    },
                }, token);
                Interlocked.Increment(ref fleet.EventsSent);
            }
        }
        catch (OperationCanceledException)
        {
            // The control plane went away.
        }
        finally
        {
            Interlocked.Decrement(ref fleet.OpenStreams);
        }
    }

    private static (DeliveryOutcome Outcome, string Dsn, int Weight) Pick(int n)
    {
        int slot = (int)((uint)(n * 37 + 11) % 100);
        foreach (var m in Mix)
        {
            if (slot < m.Weight)
                return m;
            slot -= m.Weight;
        }

        return Mix[0];
    }
}

/// <summary>The simulated agents' Kestrel: one HTTPS listener per agent on 127.0.0.1, client certificates required and checked against the bench CA.</summary>
internal static class FakeAgentHost
{
    public static WebApplication Build(Fleet fleet, X509Certificate2 server, X509Certificate2 ca)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.Http2.MaxStreamsPerConnection = 100;
            foreach (var agent in fleet.Agents)
            {
                kestrel.Listen(IPAddress.Loopback, agent.Port, listen =>
                {
                    listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2;
                    listen.UseHttps(new HttpsConnectionAdapterOptions
                    {
                        ServerCertificate = server,
                        ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                        ClientCertificateValidation = (certificate, _, _) => Pki.ChainsTo(certificate, ca),
                    });
                });
            }
        });
        builder.Services.AddSingleton(fleet);
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<FakeAgentService>();
        return app;
    }
}
