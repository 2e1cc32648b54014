using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MailAgent.Protos.ControlPlane.V1;
using MailControlPlane.Connections;
using MailControlPlane.Scoring;
using ProtoCheckStatus = MailAgent.Protos.ControlPlane.V1.CheckStatus;
using ProtoConnectionState = MailAgent.Protos.ControlPlane.V1.ConnectionState;
using ProtoProviderState = MailAgent.Protos.ControlPlane.V1.ProviderState;

namespace MailControlPlane.Grpc;

/// <summary>mailagent.controlplane.v1.ControlPlaneService: maps the connections, the board and the roll-out.</summary>
internal sealed class ControlPlaneGrpcService(AgentConnections connections, ProviderBoard board, ConfigRollout rollout,
    Routing.IRoutingOrderReader rows, IEnumerable<DeliveryEvents.IDeliveryEventStore> eventStores, TimeProvider time) : ControlPlaneService.ControlPlaneServiceBase
{
    [RequiresPermission(GrpcPermission.Read)]
    public override async Task<GetProviderStatsResponse> GetProviderStats(GetProviderStatsRequest request, ServerCallContext context)
    {
        var store = eventStores.FirstOrDefault()
            ?? throw new RpcException(new Status(StatusCode.FailedPrecondition, "delivery events are off (DeliveryEvents:Enabled=false)"));
        if (string.IsNullOrWhiteSpace(request.ProviderName))
            throw new RpcException(new Status(StatusCode.InvalidArgument, "provider_name is required"));
        var to = request.To?.ToDateTimeOffset() ?? time.GetUtcNow();
        var from = request.From?.ToDateTimeOffset() ?? to - TimeSpan.FromHours(24);
        from = new DateTimeOffset(from.UtcTicks - (from.UtcTicks % TimeSpan.TicksPerHour), TimeSpan.Zero);
        if (from >= to || to - from > TimeSpan.FromDays(31))
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"from {from:o} to {to:o} is not valid: use from < to, at most 31 days apart"));
        var rows = await store.OutcomesAsync(request.ProviderName, from, to, context.CancellationToken);
        var response = new GetProviderStatsResponse { ProviderName = request.ProviderName };
        foreach (var h in DeliveryEvents.ProviderStats.Aggregate(request.ProviderName, rows))
        {
            var hour = Map(h);
            hour.Hour = Timestamp.FromDateTimeOffset(h.Hour);
            response.Hours.Add(hour);
        }

        var total = DeliveryEvents.ProviderStats.Aggregate(request.ProviderName, rows.Select(r => r with { LoggedAt = from }));
        response.Total = total.Count > 0 ? Map(total[0]) : new ProviderStatsHour();
        return response;
    }

    private static ProviderStatsHour Map(DeliveryEvents.ProviderHourStats h)
    {
        var result = new ProviderStatsHour
        {
            Sent = h.Sent, Delivered = h.Delivered, Deferred = h.Deferred, BouncedHard = h.BouncedHard, BouncedSoft = h.BouncedSoft, Expired = h.Expired,
        };
        if (h.DelayMedian is { } median)
            result.DelayMedianSeconds = median;
        if (h.DelayP95 is { } p95)
            result.DelayP95Seconds = p95;
        return result;
    }

    [RequiresPermission(GrpcPermission.Read)]
    public override Task<ListAgentsResponse> ListAgents(ListAgentsRequest request, ServerCallContext context)
    {
        var response = new ListAgentsResponse();
        response.Agents.Add(connections.All.Select(c => Map(c.Snapshot())));
        return Task.FromResult(response);
    }

    [RequiresPermission(GrpcPermission.Read)]
    public override async Task<ListProvidersResponse> ListProviders(ListProvidersRequest request, ServerCallContext context)
    {
        HashSet<string>? active = null;
        try
        {
            // The platform's own query lists exactly the active rows.
            active = (await rows.ReadOrderAsync(context.CancellationToken)).Select(r => r.ProviderName).ToHashSet(StringComparer.Ordinal);
        }
#pragma warning disable CA1031 // the database may be down: the verdicts are still worth showing
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
        }

        var response = new ListProvidersResponse();
        foreach (var a in board.Latest())
        {
            var health = Map(a);
            if (active != null)
                health.RowIsActive = active.Contains(a.ProviderName);
            response.Providers.Add(health);
        }

        return response;
    }

    [RequiresPermission(GrpcPermission.Read)]
    public override async Task WatchProviders(WatchProvidersRequest request, IServerStreamWriter<ProviderHealth> responseStream, ServerCallContext context)
    {
        try
        {
            await foreach (var a in board.WatchAsync(context.CancellationToken))
                await responseStream.WriteAsync(Map(a), context.CancellationToken);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The caller went away.
        }
    }

    [RequiresPermission(GrpcPermission.Write)]
    public override async Task RollOutConfig(RollOutConfigRequest request, IServerStreamWriter<RollOutProgress> responseStream, ServerCallContext context)
    {
        if (rollout.Problem(request) is { } problem)
            throw new RpcException(new Status(StatusCode.InvalidArgument, problem));
        await rollout.RunAsync(request, p => responseStream.WriteAsync(p, context.CancellationToken), context.CancellationToken);
    }

    public static AgentInfo Map(AgentSnapshot s)
    {
        var info = new AgentInfo
        {
            Name = s.Agent.Name,
            Address = s.Agent.Address.ToString(),
            Region = s.Agent.Region,
            ProviderName = s.Agent.ProviderName,
            ConnectionState = s.State switch
            {
                Connections.ConnectionState.Connected => ProtoConnectionState.Connected,
                Connections.ConnectionState.Unreachable => ProtoConnectionState.Unreachable,
                _ => ProtoConnectionState.Connecting,
            },
            LastError = s.LastError,
        };
        if (s.LastHeartbeat is { } seen)
            info.LastSeen = Timestamp.FromDateTimeOffset(seen);
        foreach (var c in s.Checks)
        {
            var check = new MailAgent.Protos.ControlPlane.V1.AgentCheck { Name = c.Name, Status = Map(c.Status), Reason = c.Reason };
            if (c.Value is { } value)
                check.Value = value;
            info.Checks.Add(check);
        }

        return info;
    }

    public static ProviderHealth Map(ProviderAssessment a)
    {
        var health = new ProviderHealth
        {
            ProviderName = a.ProviderName,
            Score = a.Score,
            State = a.State switch
            {
                Scoring.ProviderState.Healthy => ProtoProviderState.Healthy,
                Scoring.ProviderState.Degraded => ProtoProviderState.Degraded,
                Scoring.ProviderState.Failed => ProtoProviderState.Failed,
                Scoring.ProviderState.Probation => ProtoProviderState.Probation,
                _ => ProtoProviderState.Unknown,
            },
            IsActive = a.IsActive,
            Reason = a.Reason,
            EvaluatedAt = Timestamp.FromDateTimeOffset(a.EvaluatedAt),
        };
        if (a.ResponseTimeMs is { } ms)
            health.ProbeResponseTimeMs = ms;
        foreach (var (name, value) in a.Components)
            health.Components[name] = value;
        return health;
    }

    private static ProtoCheckStatus Map(Scoring.CheckStatus status) => status switch
    {
        Scoring.CheckStatus.Healthy => ProtoCheckStatus.Healthy,
        Scoring.CheckStatus.Degraded => ProtoCheckStatus.Degraded,
        Scoring.CheckStatus.Unhealthy => ProtoCheckStatus.Unhealthy,
        _ => ProtoCheckStatus.Unknown,
    };
}
