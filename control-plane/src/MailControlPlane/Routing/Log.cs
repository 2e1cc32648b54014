namespace MailControlPlane.Routing;

internal static partial class Log
{
    [LoggerMessage(EventId = 16100, Level = LogLevel.Information, Message = "Routing table: {Database}; writing health_score and is_active of {Providers} agent-backed provider(s)")]
    public static partial void RoutingStarted(this ILogger logger, string database, int providers);

    [LoggerMessage(EventId = 16101, Level = LogLevel.Warning, Message = "Writing the routing table failed: {Reason}; the latest state is kept and retried in {Delay} (health-log rows waiting: {Buffered})")]
    public static partial void WriteFailed(this ILogger logger, string reason, TimeSpan delay, int buffered);

    [LoggerMessage(EventId = 16102, Level = LogLevel.Debug, Message = "Writing the routing table failed again ({Failures} in a row): {Reason}; next try in {Delay}")]
    public static partial void WriteFailedAgain(this ILogger logger, int failures, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 16103, Level = LogLevel.Information, Message = "The routing table is writable again after {Failures} failed cycle(s)")]
    public static partial void WriteRecovered(this ILogger logger, int failures);

    [LoggerMessage(EventId = 16104, Level = LogLevel.Information, Message = "This replica now writes the routing table (advisory lock {LockKey} taken)")]
    public static partial void BecameLeader(this ILogger logger, long lockKey);

    [LoggerMessage(EventId = 16105, Level = LogLevel.Information, Message = "Another replica writes the routing table (advisory lock {LockKey} held); standing by, retrying every {Interval}")]
    public static partial void StandingBy(this ILogger logger, long lockKey, TimeSpan interval);

    [LoggerMessage(EventId = 16106, Level = LogLevel.Warning, Message = "Health-log buffer full ({Capacity} rows): dropping the oldest rows while the database is unreachable")]
    public static partial void BufferFull(this ILogger logger, int capacity);

    [LoggerMessage(EventId = 16107, Level = LogLevel.Warning, Message = "No live email row named '{Provider}' in messaging_providers: its score is not written")]
    public static partial void NoProviderRow(this ILogger logger, string provider);

    [LoggerMessage(EventId = 16108, Level = LogLevel.Debug, Message = "Routing table: {Updates} provider row(s) and {Rows} health-log row(s) written")]
    public static partial void Written(this ILogger logger, int updates, int rows);

    [LoggerMessage(EventId = 16109, Level = LogLevel.Information, Message = "Seeded the empty SQLite routing table {Path} with {Providers}")]
    public static partial void Seeded(this ILogger logger, string path, string providers);

    [LoggerMessage(EventId = 17600, Level = LogLevel.Information, Message = "Routing table: created the messaging_providers row for {Provider} (Routing:CreateMissingProviders)")]
    public static partial void ProviderRowCreated(this ILogger logger, string provider);
    [LoggerMessage(EventId = 17720, Level = LogLevel.Information, Message = "Shutting down: releasing the routing table (advisory lock {LockKey}) so that a standby takes over")]
    public static partial void LeadReleased(this ILogger logger, long lockKey);

    [LoggerMessage(EventId = 17721, Level = LogLevel.Information, Message = "Scorer state restored from mailagent_scorer_state before the first write: {Count} provider(s) {States}")]
    public static partial void StateRestored(this ILogger logger, int count, string states);

    [LoggerMessage(EventId = 17722, Level = LogLevel.Information, Message = "Re-activating {Provider}: the control plane deactivated it itself (a person's is_active = false is never raised)")]
    public static partial void Reactivated(this ILogger logger, string provider);
}
