using MailAgent.Tests.Architecture;
using MailControlPlane.Hosting;

namespace MailControlPlane.Tests.Architecture;

/// <summary>Every control-plane log message has its own event ID in 10000-19999 (docs/operations.md), none shared with the agent.</summary>
public sealed class EventIdTests
{
    private static readonly List<(int Id, string Method)> ControlPlane = EventIds.FromAssembly(typeof(ControlPlaneHost).Assembly);

    [Fact]
    public void ControlPlaneLoggerMessages_EventIds_AreUniqueAndInRange()
    {
        Assert.True(ControlPlane.Count > 10, $"only {ControlPlane.Count} [LoggerMessage] methods found");
        var duplicates = EventIds.Duplicates(ControlPlane);
        var outside = ControlPlane.Where(e => e.Id is < 10000 or > 19999).Select(e => $"{e.Method} = {e.Id}").ToList();

        Assert.True(duplicates.Count == 0, "event IDs used twice: " + string.Join("; ", duplicates));
        Assert.True(outside.Count == 0, "outside 10000-19999: " + string.Join("; ", outside));
    }

    [Fact]
    public void ControlPlaneAndAgent_EventIds_DoNotOverlap()
    {
        var agent = EventIds.FromSource(Path.Combine(FolderGraph.RepositoryRoot(), "agent", "src"));

        Assert.True(agent.Count > 30, $"only {agent.Count} agent event IDs found in the source");
        var shared = ControlPlane.Select(c => c.Id).Intersect(agent.Select(a => a.Id)).Order().ToList();
        Assert.True(shared.Count == 0, "event IDs in both daemons: " + string.Join(", ", shared));
    }
}
