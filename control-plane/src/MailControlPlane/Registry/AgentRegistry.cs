namespace MailControlPlane.Registry;

/// <summary>An agent from the configuration, checked.</summary>
/// <param name="ProbeHost">The SMTP endpoint the control plane probes (Agents:N:ProbeHost); null: the routing row's config.smtp_host.</param>
internal sealed record RegisteredAgent(string Name, Uri Address, string Region, string ProviderName, string? ProbeHost = null, int? ProbePort = null);

/// <summary>Which agents exist, where they are and which routing-table provider each one backs; replaced whole on a configuration reload.</summary>
internal sealed class AgentRegistry
{
    private Snapshot _current;

    private sealed record Snapshot(IReadOnlyList<RegisteredAgent> Agents, IReadOnlyList<string> ProviderNames);

    public AgentRegistry(IEnumerable<RegisteredAgent> agents) => _current = Make(agents);

    public IReadOnlyList<RegisteredAgent> Agents => Volatile.Read(ref _current).Agents;

    /// <summary>The providers the agents back (one agent per provider).</summary>
    public IReadOnlyList<string> ProviderNames => Volatile.Read(ref _current).ProviderNames;

    public RegisteredAgent? Find(string name) => Agents.FirstOrDefault(a => a.Name == name);

    /// <summary>The agents of a reloaded (and checked) configuration.</summary>
    public void Replace(IEnumerable<RegisteredAgent> agents) => Volatile.Write(ref _current, Make(agents));

    private static Snapshot Make(IEnumerable<RegisteredAgent> agents)
    {
        var list = agents.ToList();
        return new Snapshot(list, list.Select(a => a.ProviderName).Distinct(StringComparer.Ordinal).ToList());
    }
}
