using System.Text;
using MailAgent.Correlation;
using MailAgent.LogParsing;
using MailAgent.Pipeline;

namespace MailAgent.Grpc;

/// <summary>Feeds the event ring with delivery outcomes from the pipeline; runs on the pipeline thread.</summary>
internal sealed class DeliveryEventObserver(EventRing ring) : ILineObserver
{
    public void Observe(ref ParsedLine line, in CorrelationResult correlation)
    {
        if (line.Kind != EventKind.Delivery)
            return;
        DeliveryOutcomeKind outcome;
        switch (line.Status)
        {
            case DeliveryStatus.Sent:
                outcome = DeliveryOutcomeKind.Sent;
                break;
            case DeliveryStatus.Deferred:
                outcome = DeliveryOutcomeKind.Deferred;
                break;
            case DeliveryStatus.Bounced:
                outcome = DeliveryOutcomeKind.Bounced;
                break;
            default:
                return;
        }

        ring.Append(new DeliveryObserved(
            outcome, Encoding.ASCII.GetString(line.Program), Encoding.ASCII.GetString(line.Dsn),
            Encoding.ASCII.GetString(RelayDomain(line.Relay)), Encoding.ASCII.GetString(line.QueueId)));
    }

    /// <summary><c>mx.example.net[192.0.2.1]:25</c> → <c>mx.example.net</c>; <c>none</c>, <c>local</c> stay as they are.</summary>
    public static ReadOnlySpan<byte> RelayDomain(ReadOnlySpan<byte> relay)
    {
        int bracket = relay.IndexOf((byte)'[');
        return bracket < 0 ? relay : relay[..bracket];
    }
}
