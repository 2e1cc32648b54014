using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MailAgent.Postfix;

/// <summary>Registers the Postfix command seam once, for every folder that runs a Postfix program.</summary>
internal static class PostfixServiceCollectionExtensions
{
    /// <summary>Adds <paramref name="options"/> and <see cref="IPostfixCommands"/> unless already there; the time limit runs on the container's <see cref="TimeProvider"/>.</summary>
    public static IServiceCollection AddPostfixCommands(this IServiceCollection services, PostfixOptions options)
    {
        services.TryAddSingleton(options);
        services.TryAddSingleton<IPostfixCommands>(sp => new PostfixCommands(sp.GetRequiredService<PostfixOptions>(), sp.GetService<TimeProvider>()));
        return services;
    }
}
