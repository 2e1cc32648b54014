using MailAgent.Protos.V1;
using MailControlPlane.Scoring;

namespace MailControlPlane.Connections;

/// <summary>From the agent's messages to the scorer's observations.</summary>
internal static class AgentMapping
{
    public static CheckStatus Status(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => CheckStatus.Healthy,
        HealthStatus.Degraded => CheckStatus.Degraded,
        HealthStatus.Unhealthy => CheckStatus.Unhealthy,
        _ => CheckStatus.Unknown,
    };

    public static AgentCheck Check(HealthCheck check) =>
        new(check.Name, Status(check.Status), check.Reason, check.HasValue ? check.Value : null);

    public static DeliveryOutcomeKind? Outcome(DeliveryOutcome outcome) => outcome switch
    {
        DeliveryOutcome.Sent => DeliveryOutcomeKind.Sent,
        DeliveryOutcome.Deferred => DeliveryOutcomeKind.Deferred,
        DeliveryOutcome.Bounced => DeliveryOutcomeKind.Bounced,
        _ => null,
    };

    /// <summary>The queue snapshot reduced to what the score needs; a queue missing from the reply is empty.</summary>
    public static QueueObservation Queue(GetQueueResponse queue)
    {
        QueueDepth? Find(string name) => queue.Queues.FirstOrDefault(q => q.Name == name);
        TimeSpan Age(QueueDepth? q) => q?.OldestAge?.ToTimeSpan() ?? TimeSpan.Zero;
        var incoming = Find("incoming");
        var active = Find("active");
        return new QueueObservation(
            queue.TakenAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue,
            Age(incoming) > Age(active) ? Age(incoming) : Age(active),
            Find("deferred")?.Messages ?? 0,
            active?.Messages ?? 0,
            queue.ActiveLimit);
    }

    /// <summary>Replaces the check named like <paramref name="change"/> (or adds it), keeping its last value.</summary>
    public static IReadOnlyList<AgentCheck> WithChange(IReadOnlyList<AgentCheck> checks, HealthChangeEvent change)
    {
        var result = new List<AgentCheck>(checks.Count + 1);
        bool found = false;
        foreach (var c in checks)
        {
            if (c.Name == change.Name)
            {
                result.Add(new AgentCheck(c.Name, Status(change.Status), change.Reason, c.Value));
                found = true;
            }
            else
                result.Add(c);
        }

        if (!found)
            result.Add(new AgentCheck(change.Name, Status(change.Status), change.Reason));
        return result;
    }
}
