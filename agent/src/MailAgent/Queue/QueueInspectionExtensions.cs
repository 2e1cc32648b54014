using MailAgent.Postfix;

namespace MailAgent.Queue;

/// <summary>Registers the queue inspector.</summary>
internal static class QueueInspectionExtensions
{
    /// <summary>
    /// Adds the queue loop, its metrics and <see cref="IQueueSnapshotSource"/>; nothing when
    /// <see cref="QueueOptions.Enabled"/> is off. Expects a <see cref="Prometheus.CollectorRegistry"/>
    /// and a <see cref="TimeProvider"/> in the container.
    /// </summary>
    public static IServiceCollection AddQueueInspection(this IServiceCollection services, QueueOptions options, PostfixOptions postfix)
    {
        if (!options.Enabled)
            return services;

        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        services.AddPostfixCommands(postfix);
        services.AddSingleton<QueueSnapshotStore>();
        services.AddSingleton<IQueueSnapshotSource>(sp => sp.GetRequiredService<QueueSnapshotStore>());
        services.AddHostedService<QueueInspectorService>();
        return services;
    }
}
