namespace MailAgent.Grpc;

/// <summary>What happened, without its place in the stream.</summary>
internal abstract record AgentEventBody;

/// <summary>Outcome of one delivery attempt: no addresses, only what says how the host is doing.</summary>
internal sealed record DeliveryObserved(DeliveryOutcomeKind Outcome, string Service, string Dsn, string RelayDomain, string QueueId, Events.DeliveryDetails? Details = null) : AgentEventBody;

/// <summary>A delivery event read back from the journal after a restart, as it was sent.</summary>
internal sealed record JournaledEvent(MailAgent.Protos.V1.AgentEvent Proto) : AgentEventBody;

/// <summary>A health check changed state.</summary>
internal sealed record HealthChanged(string Name, AgentHealthStatus Status, string Reason) : AgentEventBody;

/// <summary>An event with its sequence number (1, 2, 3 … for the agent's lifetime).</summary>
internal sealed record SequencedEvent(ulong Sequence, DateTimeOffset ObservedAt, AgentEventBody Body);

/// <summary>Delivery outcomes the event stream reports.</summary>
internal enum DeliveryOutcomeKind
{
    Sent,
    Deferred,
    Bounced,
    Expired,
}
