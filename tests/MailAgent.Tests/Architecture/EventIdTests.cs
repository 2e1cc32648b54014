using MailAgent.Hosting;

namespace MailAgent.Tests.Architecture;

/// <summary>Every agent log message has its own event ID, inside the agent's range (docs/operations.md), and none is the control plane's.</summary>
public sealed class EventIdTests
{
    private static readonly List<(int Id, string Method)> Agent = EventIds.FromAssembly(typeof(AgentHost).Assembly);

    [Fact]
    public void AgentLoggerMessages_EventIds_AreUnique()
    {
        Assert.True(Agent.Count > 30, $"only {Agent.Count} [LoggerMessage] methods found");
        var duplicates = EventIds.Duplicates(Agent);

        Assert.True(duplicates.Count == 0, "event IDs used twice: " + string.Join("; ", duplicates));
    }

    [Fact]
    public void AgentLoggerMessages_EventIds_AreInTheAgentRange()
    {
        var outside = Agent.Where(e => e.Id is < 1000 or > 9999).Select(e => $"{e.Method} = {e.Id}").ToList();

        Assert.True(outside.Count == 0, "outside 1000-9999: " + string.Join("; ", outside));
    }

    [Fact]
    public void AgentAndControlPlane_EventIds_DoNotOverlap()
    {
        var controlPlane = EventIds.FromSource(Path.Combine(FolderGraph.RepositoryRoot(), "control-plane", "src"));

        Assert.NotEmpty(controlPlane);
        var shared = Agent.Select(a => a.Id).Intersect(controlPlane.Select(c => c.Id)).Order().ToList();
        Assert.True(shared.Count == 0, "event IDs in both daemons: " + string.Join(", ", shared));
    }

    [Fact]
    public void EventIdsFromSource_AgentSource_MatchesTheAssembly()
    {
        // The source scan the control plane's test relies on finds what reflection finds.
        var scanned = EventIds.FromSource(Path.Combine(FolderGraph.RepositoryRoot(), "agent", "src")).Select(e => e.Id).Order();

        Assert.Equal(Agent.Select(a => a.Id).Order(), scanned);
    }

    [Fact]
    public void Duplicates_SameIdTwice_NamesBoth()
    {
        var duplicates = EventIds.Duplicates([(1001, "A.Log"), (1002, "B.Log"), (1001, "C.Log")]);

        Assert.Equal(["1001: A.Log, C.Log"], duplicates);
    }
}
