namespace MailControlPlane.Registry;

/// <summary>An agent from the configuration, checked.</summary>
/// <param name="ProbeHost">The SMTP endpoint the control plane probes (Agents:N:ProbeHost); null: the routing row's config.smtp_host.</param>
internal sealed record RegisteredAgent(string Name, Uri Address, string Region, string ProviderName, string? ProbeHost = null, int? ProbePort = null);

/// <summary>Which agents exist, where they are and which routing-table provider each one backs.</summary>
internal sealed class AgentRegistry
{
    public AgentRegistry(IEnumerable<RegisteredAgent> agents)
    {
        Agents = agents.ToList();
        ProviderNames = Agents.Select(a => a.ProviderName).Distinct(StringComparer.Ordinal).ToList();
    }

    public IReadOnlyList<RegisteredAgent> Agents { get; }

    /// <summary>The providers the agents back (one agent per provider).</summary>
    public IReadOnlyList<string> ProviderNames { get; }

    public RegisteredAgent? Find(string name) => Agents.FirstOrDefault(a => a.Name == name);
}
