using System.Text.Json;
using MailAgent.Tests.Cli;

namespace MailAgent.Tests.Events;

/// <summary><c>mailagent events</c> over the bundled corpus: counts per status equal pflogsumm's and the ground truth.</summary>
public sealed class EventsCommandTests
{
    [Fact]
    public async Task Events_Corpus_CountsMatchPflogsummAndGroundTruth()
    {
        var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync("events", "--log", TestData.PathOf("real-postfix-3.7.log.gz"),
            "Events:RecipientHashKey=0123456789abcdef0123");

        Assert.True(exitCode == 0, stderr);
        var counts = new Dictionary<string, int>();
        int withoutMessageId = 0;
        int unclassifiedBounces = 0;
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            string status = e.GetProperty("status").GetString()!;
            counts[status] = counts.GetValueOrDefault(status) + 1;
            if (e.GetProperty("message_id").GetString()!.Length == 0)
                withoutMessageId++;
            if (status == "bounced" && (e.GetProperty("severity").GetString() != "hard" || e.GetProperty("reason").GetString() is "other" or "none"))
                unclassifiedBounces++;
            Assert.False(e.TryGetProperty("recipient", out _));
        }

        // pflogsumm: 41785 delivered, 12633 deferrals, 2000 bounced; ground truth: 1600 expired + 50 force-expired.
        Assert.Equal(41785, counts["delivered"]);
        Assert.Equal(12633, counts["deferred"]);
        Assert.Equal(2000, counts["bounced"]);
        Assert.Equal(1650, counts["expired"]);
        Assert.Equal(0, withoutMessageId);
        Assert.Equal(0, unclassifiedBounces);
    }
}
