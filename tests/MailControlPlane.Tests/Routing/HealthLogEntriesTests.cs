using System.Text.Json;
using MailControlPlane.Routing;
using MailControlPlane.Scoring;

namespace MailControlPlane.Tests.Routing;

public sealed class HealthLogEntriesTests
{
    [Theory]
    [InlineData("Healthy", "healthy")]
    [InlineData("Degraded", "degraded")]
    [InlineData("Probation", "degraded")]
    [InlineData("Unknown", "degraded")]
    [InlineData("Failed", "failed")]
    public void StatusOf_State_MapsToTableVocabulary(string state, string expected) =>
        Assert.Equal(expected, HealthLogEntries.StatusOf(Enum.Parse<ProviderState>(state)));

    [Fact]
    public void From_Assessment_MetadataHoldsStateScoreAndComponents()
    {
        var assessment = WriterHarness.Assessment("postfix-oregon", 42, ProviderState.Probation, active: true, reason: "4.7.1 refusals");

        var entry = HealthLogEntries.From(assessment, HealthLogEntries.StateChange);

        Assert.Equal("postfix-oregon", entry.ProviderName);
        Assert.Equal("degraded", entry.Status);
        Assert.Equal("4.7.1 refusals", entry.Reason);
        Assert.Equal(assessment.EvaluatedAt, entry.CheckedAt);
        using var metadata = JsonDocument.Parse(entry.MetadataJson);
        var root = metadata.RootElement;
        Assert.Equal("state_change", root.GetProperty("kind").GetString());
        Assert.Equal("probation", root.GetProperty("state").GetString());
        Assert.Equal(42, root.GetProperty("score").GetInt32());
        Assert.True(root.GetProperty("is_active").GetBoolean());
        Assert.Equal(0.42, root.GetProperty("components").GetProperty("delivery").GetDouble());
    }
}
