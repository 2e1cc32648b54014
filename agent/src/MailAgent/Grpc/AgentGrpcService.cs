using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MailAgent.Protos.V1;

namespace MailAgent.Grpc;

/// <summary><c>mailagent.v1.AgentService</c>: translates calls to the status reader, the queue source and the event ring.</summary>
internal sealed class AgentGrpcService(
    AgentStatusReader status, EventRing ring, IEnumerable<Queue.IQueueSnapshotSource> queues, IPostfixVersionSource postfix, ConfigApply.ConfigApplier applier,
    Certificates.CertificateDeployer certificates, TimeProvider time, ILogger<AgentGrpcService> logger)
    : AgentService.AgentServiceBase
{
    private const int BatchSize = 256;

    /// <summary>Heartbeats no more often than this, whatever the client asks.</summary>
    private static readonly TimeSpan MinimumHeartbeat = TimeSpan.FromSeconds(1);

    [RequiresPermission(GrpcPermission.Read)]
    public override Task<GetStatusResponse> GetStatus(GetStatusRequest request, ServerCallContext context) =>
        StatusAsync(context.CancellationToken);

    private async Task<GetStatusResponse> StatusAsync(CancellationToken cancellationToken)
    {
        var s = await status.ReadAsync(cancellationToken);
        var response = new GetStatusResponse
        {
            Hostname = s.Hostname,
            AgentVersion = s.AgentVersion,
            PostfixVersion = s.PostfixVersion,
            StartedAt = Timestamp.FromDateTimeOffset(s.StartedAt),
            Uptime = Duration.FromTimeSpan(s.Uptime),
            Health = Map(s.Overall),
            ConfigHash = applier.CurrentHash(),
        };
        foreach (var c in s.Checks)
        {
            var check = new HealthCheck { Name = c.Name, Status = Map(c.Status), Reason = c.Reason };
            if (c.Value is { } value)
                check.Value = value;
            response.Checks.Add(check);
        }
        return response;
    }

    [RequiresPermission(GrpcPermission.Read)]
    public override async Task<GetQueueResponse> GetQueue(GetQueueRequest request, ServerCallContext context) =>
        await QueueAsync(context.CancellationToken)
        ?? throw new RpcException(new Status(StatusCode.Unavailable, "no queue snapshot: the queue inspector is off (Queue:Enabled) or has not completed a postqueue run yet"));

    /// <summary>The queue summary; null when Queue:Enabled is false or before the first postqueue run succeeded.</summary>
    private async Task<GetQueueResponse?> QueueAsync(CancellationToken cancellationToken)
    {
        var summary = queues.FirstOrDefault()?.Current?.Summary;
        if (summary == null)
            return null;
        var response = new GetQueueResponse
        {
            TakenAt = Timestamp.FromDateTimeOffset(summary.TakenAt),
            ActiveLimit = (await postfix.GetAsync(cancellationToken)).ActiveLimit,
        };
        response.Queues.AddRange(summary.Queues.Select(q => new QueueDepth
        {
            Name = q.Name,
            Messages = q.Messages,
            Bytes = q.Bytes,
            OldestAge = Duration.FromTimeSpan(TimeSpan.FromSeconds(summary.OldestAgeSeconds(q.Queue))),
        }));
        return response;
    }

    /// <summary>
    /// Events after resume_after, then new ones as they come; with heartbeat_interval, a Heartbeat
    /// (status and queue) on that schedule too, so the client needs no polling.
    /// </summary>
    [RequiresPermission(GrpcPermission.Read)]
    public override async Task WatchEvents(WatchEventsRequest request, IServerStreamWriter<WatchEventsResponse> responseStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        var interval = request.HeartbeatInterval?.ToTimeSpan() ?? TimeSpan.Zero;
        if (interval > TimeSpan.Zero && interval < MinimumHeartbeat)
            interval = MinimumHeartbeat;
        // A resume point from an earlier run means nothing in this one: start from the oldest held.
        ulong after = request.RunId.Length > 0 && request.RunId != ring.RunId && request.ResumeAfter > 0 ? ulong.MaxValue - 1 : request.ResumeAfter;
        var nextHeartbeat = time.GetUtcNow();
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (interval > TimeSpan.Zero && time.GetUtcNow() >= nextHeartbeat)
                {
                    await responseStream.WriteAsync(new WatchEventsResponse { Heartbeat = await HeartbeatAsync(cancellationToken) }, cancellationToken);
                    nextHeartbeat = time.GetUtcNow() + interval;
                }

                var read = ring.ReadAfter(after, BatchSize);
                if (read.Lost)
                {
                    Log.EventsLost(logger, context.Peer, request.ResumeAfter, read.FirstMissed, read.FirstAvailable);
                    await responseStream.WriteAsync(new WatchEventsResponse
                    {
                        EventsLost = new EventsLost { FirstMissed = read.FirstMissed, FirstAvailable = read.FirstAvailable },
                    }, cancellationToken);
                    after = read.FirstAvailable - 1;
                }

                foreach (var e in read.Events)
                {
                    var mapped = Map(e);
                    mapped.RunId = ring.RunId;
                    await responseStream.WriteAsync(new WatchEventsResponse { Event = mapped }, cancellationToken);
                }

                if (read.Events.Count > 0)
                {
                    after = read.Events[^1].Sequence;
                    continue;
                }

                if (read.Lost)
                    continue;
                if (interval <= TimeSpan.Zero)
                {
                    await ring.WaitAsync(after, cancellationToken);
                    continue;
                }

                var wait = nextHeartbeat - time.GetUtcNow();
                if (wait <= TimeSpan.Zero)
                    continue;
                using var timer = new CancellationTokenSource(wait, time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
                try
                {
                    await ring.WaitAsync(after, linked.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Heartbeat time.
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away or the agent is stopping: the stream simply ends.
        }
    }

    private async Task<Heartbeat> HeartbeatAsync(CancellationToken cancellationToken)
    {
        var heartbeat = new Heartbeat
        {
            At = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            LastSequence = ring.LastSequence,
            Status = await StatusAsync(cancellationToken),
        };
        if (await QueueAsync(cancellationToken) is { } queue)
            heartbeat.Queue = queue;
        return heartbeat;
    }

    [RequiresPermission(GrpcPermission.Write)]
    public override async Task<ApplyConfigResponse> ApplyConfig(ApplyConfigRequest request, ServerCallContext context)
    {
        // The interceptor has already checked that this certificate may write.
        string caller = context.GetHttpContext().Connection.ClientCertificate?.Subject ?? context.Peer;
        var reply = await applier.ApplyAsync(
            new ConfigApply.ConfigApplyRequest(request.Set, request.Remove, request.ExpectedConfigHash, request.IdempotencyKey, request.DryRun, caller),
            context.CancellationToken);
        var response = new ApplyConfigResponse
        {
            Result = reply.Result switch
            {
                ConfigApply.ConfigApplyResult.Applied => ApplyResult.Applied,
                ConfigApply.ConfigApplyResult.Unchanged => ApplyResult.Unchanged,
                ConfigApply.ConfigApplyResult.Rejected => ApplyResult.Rejected,
                ConfigApply.ConfigApplyResult.RolledBack => ApplyResult.RolledBack,
                _ => ApplyResult.DryRun,
            },
            Reason = reply.Reason,
            ConfigHash = reply.ConfigHash,
        };
        response.Diff.AddRange(reply.Diff.Select(c => new ConfigChange { Name = c.Name, OldValue = c.OldValue, NewValue = c.NewValue, Removed = c.Removed }));
        response.Messages.AddRange(reply.Messages);
        return response;
    }

    [RequiresPermission(GrpcPermission.Write)]
    public override async Task<ReloadCertificatesResponse> ReloadCertificates(ReloadCertificatesRequest request, ServerCallContext context)
    {
        var outcome = await certificates.DeployAsync("grpc " + context.Peer, context.CancellationToken);
        var response = new ReloadCertificatesResponse
        {
            Result = outcome.Result switch
            {
                Certificates.CertificateReloadResult.Deployed => CertificateReloadResult.Deployed,
                Certificates.CertificateReloadResult.Unchanged => CertificateReloadResult.Unchanged,
                Certificates.CertificateReloadResult.Refused => CertificateReloadResult.Refused,
                _ => CertificateReloadResult.RolledBack,
            },
            Reason = outcome.Reason,
            ServedFingerprint = outcome.ServedFingerprint ?? "",
        };
        if (outcome.NotAfter is { } notAfter)
            response.NotAfter = Timestamp.FromDateTimeOffset(notAfter);
        return response;
    }

    internal static AgentEvent Map(SequencedEvent e)
    {
        if (e.Body is JournaledEvent journaled)
            return journaled.Proto.Clone();
        var result = new AgentEvent { Sequence = e.Sequence, ObservedAt = Timestamp.FromDateTimeOffset(e.ObservedAt) };
        switch (e.Body)
        {
            case DeliveryObserved d:
                result.Delivery = new DeliveryEvent
                {
                    Outcome = d.Outcome switch
                    {
                        DeliveryOutcomeKind.Sent => DeliveryOutcome.Sent,
                        DeliveryOutcomeKind.Deferred => DeliveryOutcome.Deferred,
                        DeliveryOutcomeKind.Expired => DeliveryOutcome.Expired,
                        _ => DeliveryOutcome.Bounced,
                    },
                    Service = d.Service,
                    Dsn = d.Dsn,
                    RelayDomain = d.RelayDomain,
                    QueueId = d.QueueId,
                };
                if (d.Details is { } x)
                    DeliveryEventMapping.Fill(result.Delivery, x);
                break;
            case HealthChanged h:
                result.HealthChange = new HealthChangeEvent { Name = h.Name, Status = Map(h.Status), Reason = h.Reason };
                break;
        }

        return result;
    }

    private static HealthStatus Map(AgentHealthStatus status) => status switch
    {
        AgentHealthStatus.Healthy => HealthStatus.Healthy,
        AgentHealthStatus.Degraded => HealthStatus.Degraded,
        AgentHealthStatus.Unhealthy => HealthStatus.Unhealthy,
        _ => HealthStatus.Unknown,
    };
}
