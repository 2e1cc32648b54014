using MailControlPlane.Routing;

namespace MailControlPlane.DeliveryEvents;

internal static class DeliveryEventsServiceCollectionExtensions
{
    /// <summary>The store in the routing database (PostgreSQL, else the SQLite file) and the sink; nothing when disabled.</summary>
    public static IServiceCollection AddDeliveryEvents(this IServiceCollection services, DeliveryEventsOptions options, RoutingOptions routing)
    {
        if (!options.Enabled)
            return services;
        services.AddSingleton(sp => CreateStore(routing, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new DeliveryEventSink(sp.GetRequiredService<IDeliveryEventStore>(), options, sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Prometheus.CollectorRegistry>(), sp.GetRequiredService<ILogger<DeliveryEventSink>>()));
        services.AddSingleton<IDeliveryEventSink>(sp => sp.GetRequiredService<DeliveryEventSink>());
        services.AddHostedService(sp => sp.GetRequiredService<DeliveryEventSink>());
        if (options.Webhook.Enabled)
        {
            services.AddHostedService(sp => new DeliveryEventWebhook(sp.GetRequiredService<IDeliveryEventStore>(), options.Webhook,
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<Prometheus.CollectorRegistry>(), sp.GetRequiredService<ILogger<DeliveryEventWebhook>>()));
        }

        return services;
    }

    public static IDeliveryEventStore CreateStore(RoutingOptions routing, TimeProvider time) =>
        routing.UsesPostgres ? new PostgresDeliveryEventStore(routing.ConnectionString) : new SqliteDeliveryEventStore(routing.SqlitePath, time);
}
