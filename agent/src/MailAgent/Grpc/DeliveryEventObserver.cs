using System.Text;
using MailAgent.Correlation;
using MailAgent.Events;
using MailAgent.LogParsing;
using MailAgent.Pipeline;

namespace MailAgent.Grpc;

/// <summary>Feeds the event ring with delivery outcomes from the pipeline; runs on the pipeline thread.</summary>
internal sealed class DeliveryEventObserver(EventRing ring, DeliveryEventFactory factory, EventJournal? journal = null) : ILineObserver
{
    public bool WantsMessageIds => true;

    public void Observe(ref ParsedLine line, in CorrelationResult correlation)
    {
        if (factory.Create(ref line, in correlation) is not { } details)
            return;
        var outcome = details.Status switch
        {
            DeliveryStatusKind.Delivered => DeliveryOutcomeKind.Sent,
            DeliveryStatusKind.Deferred => DeliveryOutcomeKind.Deferred,
            DeliveryStatusKind.Bounced => DeliveryOutcomeKind.Bounced,
            _ => DeliveryOutcomeKind.Expired,
        };
        var stored = ring.AppendEvent(new DeliveryObserved(
            outcome, details.Service, details.Dsn, Encoding.ASCII.GetString(RelayDomain(line.Relay)), details.QueueId, details));
        if (journal != null)
        {
            // Written (to the OS) before this call returns, so before the tailer can checkpoint past the line.
            var proto = AgentGrpcService.Map(stored);
            proto.RunId = ring.RunId;
            journal.Append(proto);
        }
    }

    /// <summary><c>mx.example.net[192.0.2.1]:25</c> → <c>mx.example.net</c>; <c>none</c>, <c>local</c> stay as they are.</summary>
    public static ReadOnlySpan<byte> RelayDomain(ReadOnlySpan<byte> relay)
    {
        int bracket = relay.IndexOf((byte)'[');
        return bracket < 0 ? relay : relay[..bracket];
    }
}
