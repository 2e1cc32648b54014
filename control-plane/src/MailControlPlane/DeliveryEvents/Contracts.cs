namespace MailControlPlane.DeliveryEvents;

/// <summary>One row of messaging_delivery_events: one recipient outcome (or one expired message).</summary>
internal sealed record DeliveryEventRow(
    string Agent, string EventKey, string AgentRun, long AgentSequence, string ProviderName, string Host,
    string MessageId, string QueueId, string Status, string RecipientDomain, string Recipient, string RecipientHash,
    string Dsn, string Severity, string Reason, string Reply, string Relay,
    double Delay, double DelayBeforeQueueManager, double DelayInQueueManager, double DelayConnectionSetup, double DelayTransmission,
    int Attempt, DateTimeOffset LoggedAt);

/// <summary>Where an agent's stream stands: the run and the last sequence stored.</summary>
internal readonly record struct DeliveryCursor(string AgentRun, long Sequence);

/// <summary>One provider's hour.</summary>
internal sealed record ProviderHourStats(
    string ProviderName, DateTimeOffset Hour, long Sent, long Delivered, long Deferred, long BouncedHard, long BouncedSoft, long Expired,
    double? DelayMedian, double? DelayP95);

/// <summary>A hard bounce worth suppressing, with what shows it.</summary>
internal sealed record SuppressionCandidate(
    string RecipientDomain, string Recipient, string RecipientHash, string Reason, string Dsn, string Reply, long Bounces,
    DateTimeOffset FirstSeen, DateTimeOffset LastSeen, string LastMessageId, string ProviderName);

/// <summary>The events table and its cursors, in PostgreSQL or SQLite.</summary>
internal interface IDeliveryEventStore : IAsyncDisposable
{
    Task EnsureSchemaAsync(CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, DeliveryCursor>> CursorsAsync(CancellationToken cancellationToken);

    /// <summary>Inserts the rows (a replayed event key is skipped) and moves the cursors, in one transaction; returns the rows inserted.</summary>
    Task<int> WriteAsync(IReadOnlyList<DeliveryEventRow> rows, IReadOnlyDictionary<string, DeliveryCursor> cursors, CancellationToken cancellationToken);

    Task<int> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);

    /// <summary>Rows (status, severity, delay, log time) of the provider in [from, to), for the hourly statistics.</summary>
    Task<IReadOnlyList<(string Status, string Severity, double Delay, DateTimeOffset LoggedAt)>> OutcomesAsync(
        string? providerName, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);

    Task<IReadOnlyList<SuppressionCandidate>> SuppressionCandidatesAsync(DateTimeOffset since, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, long>> CountsByStatusAsync(CancellationToken cancellationToken);

    /// <summary>Every agent with stored events and where the webhook stands for it (0: nothing sent yet).</summary>
    Task<IReadOnlyDictionary<string, long>> WebhookCursorsAsync(CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> rows of <paramref name="agent"/> with id above <paramref name="afterId"/>, in id order, each as a JSON object.</summary>
    Task<IReadOnlyList<(long Id, string Json)>> EventsAfterAsync(string agent, long afterId, int limit, CancellationToken cancellationToken);

    Task SetWebhookCursorAsync(string agent, long lastId, CancellationToken cancellationToken);

    /// <summary>Rows older than <paramref name="cutoff"/> the webhook has not sent yet: what retention is about to drop from its queue.</summary>
    Task<long> WebhookUnsentOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
