using Google.Protobuf.WellKnownTypes;
using MailAgent.Protos.V1;
using MailControlPlane.Connections;
using MailControlPlane.Scoring;

namespace MailControlPlane.Tests.Connections;

public sealed class AgentMappingTests
{
    [Fact]
    public void Queue_Snapshot_TakesOldestOfIncomingAndActiveAndTheLimit()
    {
        var reply = new GetQueueResponse { TakenAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch.AddDays(1)), ActiveLimit = 20000 };
        reply.Queues.Add(new QueueDepth { Name = "active", Messages = 12, OldestAge = Duration.FromTimeSpan(TimeSpan.FromSeconds(40)) });
        reply.Queues.Add(new QueueDepth { Name = "incoming", Messages = 1, OldestAge = Duration.FromTimeSpan(TimeSpan.FromSeconds(90)) });
        reply.Queues.Add(new QueueDepth { Name = "deferred", Messages = 300, OldestAge = Duration.FromTimeSpan(TimeSpan.FromHours(3)) });

        var q = AgentMapping.Queue(reply);

        Assert.Equal(TimeSpan.FromSeconds(90), q.OldestIncomingOrActiveAge);
        Assert.Equal(300, q.DeferredMessages);
        Assert.Equal(12, q.ActiveMessages);
        Assert.Equal(20000, q.ActiveLimit);
        Assert.Equal(DateTimeOffset.UnixEpoch.AddDays(1), q.TakenAt);
    }

    [Fact]
    public void Queue_EmptyReply_IsZero()
    {
        var q = AgentMapping.Queue(new GetQueueResponse());
        Assert.Equal(TimeSpan.Zero, q.OldestIncomingOrActiveAge);
        Assert.Equal(0, q.DeferredMessages + q.ActiveMessages + q.ActiveLimit);
    }

    [Fact]
    public void Check_WithValue_KeepsTheValue()
    {
        var check = AgentMapping.Check(new HealthCheck { Name = "disk", Status = HealthStatus.Degraded, Reason = "8% free", Value = 8 });
        Assert.Equal(new AgentCheck("disk", CheckStatus.Degraded, "8% free", 8), check);
        Assert.Null(AgentMapping.Check(new HealthCheck { Name = "postfix", Status = HealthStatus.Healthy }).Value);
    }

    [Fact]
    public void WithChange_KnownAndNewChecks_ReplacesOrAdds()
    {
        IReadOnlyList<AgentCheck> checks = [new("disk", CheckStatus.Healthy, "ok", 50), new("log", CheckStatus.Healthy, "ok")];
        var changed = AgentMapping.WithChange(checks, new HealthChangeEvent { Name = "disk", Status = HealthStatus.Unhealthy, Reason = "3% free" });
        changed = AgentMapping.WithChange(changed, new HealthChangeEvent { Name = "milter", Status = HealthStatus.Degraded, Reason = "slow" });

        Assert.Equal([
            new AgentCheck("disk", CheckStatus.Unhealthy, "3% free", 50),
            new AgentCheck("log", CheckStatus.Healthy, "ok"),
            new AgentCheck("milter", CheckStatus.Degraded, "slow")], changed);
    }

    [Fact]
    public void Outcome_Known_Maps()
    {
        Assert.Equal(DeliveryOutcomeKind.Sent, AgentMapping.Outcome(DeliveryOutcome.Sent));
        Assert.Equal(DeliveryOutcomeKind.Deferred, AgentMapping.Outcome(DeliveryOutcome.Deferred));
        Assert.Equal(DeliveryOutcomeKind.Bounced, AgentMapping.Outcome(DeliveryOutcome.Bounced));
    }

    [Fact]
    public void Outcome_Unspecified_IsIgnored() => Assert.Null(AgentMapping.Outcome(DeliveryOutcome.Unspecified));
}
