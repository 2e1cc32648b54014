using Microsoft.Extensions.DependencyInjection.Extensions;
using Prometheus;

namespace MailControlPlane.Routing;

internal static class RoutingServiceCollectionExtensions
{
    /// <summary>
    /// Adds the routing-table writer (PostgreSQL when <see cref="RoutingOptions.ConnectionString"/> is set,
    /// else the SQLite file) as a hosted service, <see cref="IRoutingTableSink"/> and <see cref="IRoutingOrderReader"/>.
    /// <paramref name="agentProviderNames"/> are the provider_names the configured agents back. Uses the
    /// registered <see cref="CollectorRegistry"/> if there is one, else prometheus-net's default registry.
    /// </summary>
    public static IServiceCollection AddRoutingTable(this IServiceCollection services, RoutingOptions options, IReadOnlyCollection<string> agentProviderNames)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton(sp => new RoutingMetrics(sp.GetService<CollectorRegistry>() ?? Metrics.DefaultRegistry));
        services.AddSingleton<IRoutingStore>(sp => options.UsesPostgres
            ? new PostgresRoutingStore(options)
            : new SqliteRoutingStore(options, sp.GetRequiredService<ILoggerFactory>().CreateLogger<SqliteRoutingStore>()));
        services.AddSingleton<IRoutingOrderReader>(sp => sp.GetRequiredService<IRoutingStore>());
        services.AddSingleton(sp => sp.GetRequiredService<IRoutingStore>() as IHealthHistoryReader
            ?? throw new InvalidOperationException("the routing store cannot read the health log"));
        services.AddSingleton(sp => sp.GetRequiredService<IRoutingStore>() as IProviderRowReader
            ?? throw new InvalidOperationException("the routing store cannot list the provider rows"));
        services.AddSingleton(sp => new RoutingTableWriter(
            options,
            sp.GetRequiredService<IRoutingStore>(),
            agentProviderNames,
            sp.GetRequiredService<RoutingMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<RoutingTableWriter>>(),
            sp.GetService<Scoring.IScorerMemory>()));
        services.AddSingleton<IRoutingTableSink>(sp => sp.GetRequiredService<RoutingTableWriter>());
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<RoutingTableWriter>());
        return services;
    }
}
