namespace MailControlPlane.Routing;

/// <summary>A provider's row values as the writer sets them.</summary>
/// <remarks><paramref name="MayReactivate"/>: whether is_active may go from false to true — only when the control plane itself
/// wrote the false (a person's is_active = false stays).</remarks>
internal readonly record struct ProviderRowUpdate(string ProviderName, int Score, bool IsActive, bool MayReactivate = true);

/// <summary>What one provider's update did: rows changed, and how many of them had is_active = true just before
/// (a false written over a true is the control plane's; over a false, it is whoever wrote that false).</summary>
internal readonly record struct ProviderRowsWritten(int Rows, int WereActive);

/// <summary>A row of the platform's routing query, in its order.</summary>
internal sealed record RoutedProvider(long Id, string ProviderName, string ConfigJson);

/// <summary>A live (not deleted) email row of messaging_providers, active or not.</summary>
internal sealed record ProviderRow(long Id, string ProviderName, bool IsActive);

/// <summary>Reads every live email row, in rotation or not: the status page tells a row that is out of rotation from one that is missing.</summary>
internal interface IProviderRowReader
{
    /// <summary>Every email row with deleted_at NULL, in id order; a NULL is_active counts as false, as the routing query sees it.</summary>
    Task<IReadOnlyList<ProviderRow>> ReadEmailRowsAsync(CancellationToken cancellationToken);
}

/// <summary>Reads the routing order the way the email service does.</summary>
internal interface IRoutingOrderReader
{
    /// <summary>Runs the platform's query (verbatim on PostgreSQL, its json_extract equivalent on SQLite).</summary>
    Task<IReadOnlyList<RoutedProvider>> ReadOrderAsync(CancellationToken cancellationToken);
}

/// <summary>The database behind the writer: PostgreSQL (elects a leader) or the embedded SQLite file (always leader).
/// Called from the writer's single loop only, except <see cref="IRoutingOrderReader.ReadOrderAsync"/>.</summary>
internal interface IRoutingStore : IRoutingOrderReader, IAsyncDisposable
{
    /// <summary>Connects if needed and returns whether this replica may write; throws when the database is unreachable.</summary>
    Task<bool> TryLeadAsync(CancellationToken cancellationToken);

    /// <summary>Gives up the connection (and with it leadership) after a failure, so the next call starts afresh.</summary>
    Task ResetAsync();

    /// <summary>Updates health_score, is_active and updated_at of the live email rows, in one transaction; returns per provider
    /// the rows changed and how many were active before.</summary>
    Task<IReadOnlyDictionary<string, ProviderRowsWritten>> WriteProvidersAsync(IReadOnlyList<ProviderRowUpdate> updates, CancellationToken cancellationToken);

    /// <summary>Inserts health-log rows in one transaction.</summary>
    Task WriteHealthLogsAsync(IReadOnlyList<HealthLogEntry> entries, CancellationToken cancellationToken);

    /// <summary>Inserts a live email row for each of <paramref name="providerNames"/> that has none (Routing:CreateMissingProviders); returns those inserted.</summary>
    Task<IReadOnlyList<string>> CreateMissingProvidersAsync(IReadOnlyList<string> providerNames, CancellationToken cancellationToken);
    /// <summary>The scorer's memory per provider from the control plane's own table: the leader creates it when missing, a standby only reads it.</summary>
    Task<IReadOnlyList<Scoring.ScorerState>> ReadScorerStateAsync(CancellationToken cancellationToken);

    /// <summary>Saves the scorer's memory (upsert per provider), in one transaction.</summary>
    Task WriteScorerStateAsync(IReadOnlyList<Scoring.ScorerState> states, CancellationToken cancellationToken);

    /// <summary>provider_name of every active, live email row (one per row).</summary>
    Task<IReadOnlyList<string>> ActiveEmailProvidersAsync(CancellationToken cancellationToken);
}
