using System.Reflection;

namespace MailAgent.Common;

/// <summary>The informational version of the daemon this file is compiled into (linked source in both daemons).</summary>
internal static class ProductVersion
{
    public static string Text { get; } =
        typeof(ProductVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
}
