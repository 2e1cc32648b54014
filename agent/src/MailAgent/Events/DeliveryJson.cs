using System.Text.Json;

namespace MailAgent.Events;

/// <summary>The JSON shape of a delivery event (<c>mailagent events --format json</c>): snake_case, as the proto.</summary>
internal static class DeliveryJson
{
    public static void Write(Utf8JsonWriter w, DeliveryDetails d)
    {
        w.WriteStartObject();
        w.WriteString("status", DeliveryDetails.Name(d.Status));
        w.WriteString("message_id", d.MessageId);
        w.WriteString("queue_id", d.QueueId);
        w.WriteString("host", d.Host);
        w.WriteString("service", d.Service);
        w.WriteString("recipient_domain", d.RecipientDomain);
        if (d.Recipient.Length > 0)
            w.WriteString("recipient", d.Recipient);
        if (d.RecipientHash.Length > 0)
            w.WriteString("recipient_hash", d.RecipientHash);
        w.WriteString("dsn", d.Dsn);
        w.WriteString("severity", DeliveryDetails.Name(d.Severity));
        w.WriteString("reason", DeliveryDetails.Name(d.Reason));
        w.WriteString("reply", d.Reply);
        w.WriteString("relay", d.Relay);
        w.WriteNumber("delay", d.Delay);
        w.WriteStartArray("delays");
        w.WriteNumberValue(d.DelayBeforeQueueManager);
        w.WriteNumberValue(d.DelayInQueueManager);
        w.WriteNumberValue(d.DelayConnectionSetup);
        w.WriteNumberValue(d.DelayTransmission);
        w.WriteEndArray();
        w.WriteNumber("attempt", d.Attempt);
        if (d.LoggedAt is { } at)
            w.WriteString("logged_at", at);
        w.WriteString("event_key", d.EventKey);
        w.WriteEndObject();
    }
}
