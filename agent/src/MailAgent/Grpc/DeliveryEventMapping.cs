using Google.Protobuf.WellKnownTypes;
using MailAgent.Events;
using MailAgent.Protos.V1;

namespace MailAgent.Grpc;

/// <summary>From <see cref="DeliveryDetails"/> to the proto's delivery fields (40 and up).</summary>
internal static class DeliveryEventMapping
{
    public static void Fill(DeliveryEvent e, DeliveryDetails d)
    {
        e.MessageId = d.MessageId;
        e.Host = d.Host;
        e.RecipientDomain = d.RecipientDomain;
        e.Recipient = d.Recipient;
        e.RecipientHash = d.RecipientHash;
        e.Severity = d.Severity switch
        {
            Events.BounceSeverity.Hard => Protos.V1.BounceSeverity.Hard,
            Events.BounceSeverity.Soft => Protos.V1.BounceSeverity.Soft,
            _ => Protos.V1.BounceSeverity.None,
        };
        e.Reason = d.Reason switch
        {
            Events.BounceReason.None => Protos.V1.BounceReason.None,
            Events.BounceReason.UnknownUser => Protos.V1.BounceReason.UnknownUser,
            Events.BounceReason.MailboxFull => Protos.V1.BounceReason.MailboxFull,
            Events.BounceReason.Policy => Protos.V1.BounceReason.Policy,
            Events.BounceReason.Dns => Protos.V1.BounceReason.Dns,
            Events.BounceReason.Tls => Protos.V1.BounceReason.Tls,
            Events.BounceReason.Connection => Protos.V1.BounceReason.Connection,
            Events.BounceReason.Message => Protos.V1.BounceReason.Message,
            Events.BounceReason.Expired => Protos.V1.BounceReason.Expired,
            _ => Protos.V1.BounceReason.Other,
        };
        e.Reply = d.Reply;
        e.Relay = d.Relay;
        e.Delay = d.Delay;
        e.DelayBeforeQueueManager = d.DelayBeforeQueueManager;
        e.DelayInQueueManager = d.DelayInQueueManager;
        e.DelayConnectionSetup = d.DelayConnectionSetup;
        e.DelayTransmission = d.DelayTransmission;
        e.Attempt = (uint)Math.Max(0, d.Attempt);
        if (d.LoggedAt is { } at)
            e.LoggedAt = Timestamp.FromDateTimeOffset(at);
        e.EventKey = d.EventKey;
    }
}
