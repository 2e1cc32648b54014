using System.Text.Json;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>One message of <c>postqueue -j</c>: the members the tests use, unknown ones ignored.</summary>
internal sealed record PostfixQueueEntry(string QueueName, string QueueId, string Sender, IReadOnlyList<string> Recipients)
{
    /// <summary>Parses <c>postqueue -j</c> output: one JSON object per line.</summary>
    public static IReadOnlyList<PostfixQueueEntry> ParseJsonLines(string output)
    {
        var entries = new List<PostfixQueueEntry>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var recipients = root.TryGetProperty("recipients", out var list)
                ? [.. list.EnumerateArray().Select(r => r.GetProperty("address").GetString() ?? "")]
                : Array.Empty<string>();
            entries.Add(new PostfixQueueEntry(
                root.GetProperty("queue_name").GetString() ?? "",
                root.GetProperty("queue_id").GetString() ?? "",
                root.GetProperty("sender").GetString() ?? "",
                recipients));
        }

        return entries;
    }
}
