using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using MailAgent.Protos.V1;

namespace MailAgent.Grpc;

/// <summary><c>mailagent.v1.AgentService</c>: translates calls to the status reader, the queue source and the event ring.</summary>
internal sealed class AgentGrpcService(
    AgentStatusReader status, EventRing ring, IEnumerable<Queue.IQueueSnapshotSource> queues, IPostfixVersionSource postfix, ConfigApply.ConfigApplier applier,
    Certificates.CertificateDeployer certificates, ILogger<AgentGrpcService> logger)
    : AgentService.AgentServiceBase
{
    private const int BatchSize = 256;

    public override async Task<GetStatusResponse> GetStatus(GetStatusRequest request, ServerCallContext context)
    {
        var s = await status.ReadAsync(context.CancellationToken);
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

    public override async Task<GetQueueResponse> GetQueue(GetQueueRequest request, ServerCallContext context)
    {
        // No source when Queue:Enabled is false; no summary until the first postqueue run succeeded.
        var summary = queues.FirstOrDefault()?.Current?.Summary
            ?? throw new RpcException(new Status(StatusCode.Unavailable, "no queue snapshot: the queue inspector is off (Queue:Enabled) or has not completed a postqueue run yet"));
        var response = new GetQueueResponse
        {
            TakenAt = Timestamp.FromDateTimeOffset(summary.TakenAt),
            ActiveLimit = (await postfix.GetAsync(context.CancellationToken)).ActiveLimit,
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

    public override async Task WatchEvents(WatchEventsRequest request, IServerStreamWriter<WatchEventsResponse> responseStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        try
        {
            // A resume point from an earlier run means nothing in this one: start from the oldest held.
            ulong resumeAfter = request.RunId.Length > 0 && request.RunId != ring.RunId && request.ResumeAfter > 0 ? ulong.MaxValue - 1 : request.ResumeAfter;
            await foreach (var read in ring.WatchAsync(resumeAfter, BatchSize, cancellationToken))
            {
                if (read.Lost)
                {
                    Log.EventsLost(logger, context.Peer, request.ResumeAfter, read.FirstMissed, read.FirstAvailable);
                    await responseStream.WriteAsync(new WatchEventsResponse
                    {
                        EventsLost = new EventsLost { FirstMissed = read.FirstMissed, FirstAvailable = read.FirstAvailable },
                    }, cancellationToken);
                }

                foreach (var e in read.Events)
                {
                    var mapped = Map(e);
                    mapped.RunId = ring.RunId;
                    await responseStream.WriteAsync(new WatchEventsResponse { Event = mapped }, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away or the agent is stopping: the stream simply ends.
        }
    }

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
