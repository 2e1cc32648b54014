using System.Text.Encodings.Web;
using System.Text.Json;
using MailAgent.Config;
using MailAgent.Queue;

namespace MailAgent.Cli;

/// <summary><c>mailagent queue [--format json|prometheus]</c>: one queue snapshot, as the daemon would take it.</summary>
internal static class QueueCommand
{
    public const string Usage = """
        mailagent queue [--format json|prometheus] [--config FILE] [Queue:Key=value ...]

        Runs 'postqueue [-c Postfix:ConfigDirectory] -j' once, the way the daemon does (streaming,
        killed after Queue:Timeout), and prints what the queue adds up to:
          json        one JSON object: per queue (active, deferred, hold, incoming, maildrop) the
                      messages, recipients, bytes, oldest arrival and age histogram; deferred
                      recipients by reason class and by top domain (the default)
          prometheus  the postfix_showq_* / postfix_deferred_* / mailagent_queue_* series the
                      daemon would expose
        It runs whatever Queue:Enabled says. Exit status: 0 on success, 1 when postqueue failed or
        timed out (the JSON then says why), 2 on a usage or configuration error.
        """;

    /// <summary>One snapshot, printed as <paramref name="format"/> (json or prometheus).</summary>
    public static async Task<int> RunAsync(string format, List<string> settings, CliContext context)
    {
        var config = AgentConfiguration.Build(settings, out _, out var errors);
        errors.AddRange(AgentConfiguration.Validate(config, out var agentSettings));
        var options = agentSettings.Queue;
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            return 2;
        }

        var inspector = new QueueInspector(new MailAgent.Postfix.PostfixCommands(agentSettings.Postfix, context.Time), options, context.Time);
        var snapshot = await inspector.InspectAsync(CancellationToken.None);

        await context.Out.FlushAsync();
        if (format == "json")
        {
            WriteJson(context.OutStream, snapshot);
        }
        else
        {
            var registry = Prometheus.Metrics.NewCustomRegistry();
            var store = new QueueSnapshotStore();
            var metrics = new QueueMetrics(registry, store, options.AgeBucketBounds(), context.Time);
            store.Publish(snapshot);
            metrics.Record(snapshot);
            await registry.CollectAndExportAsTextAsync(context.OutStream);
        }

        await context.OutStream.FlushAsync();
        if (!snapshot.Succeeded)
            await context.Error.WriteLineAsync($"queue: {snapshot.Error}");
        return snapshot.Succeeded ? 0 : 1;
    }

    /// <summary>Writes one snapshot as a JSON object followed by a newline.</summary>
    public static void WriteJson(Stream output, QueueSnapshot snapshot)
    {
        using (var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("taken_at", snapshot.TakenAt);
            json.WriteNumber("duration_seconds", Math.Round(snapshot.Duration.TotalSeconds, 6));
            json.WriteBoolean("success", snapshot.Succeeded);
            if (snapshot.Error != null)
                json.WriteString("error", snapshot.Error);
            if (snapshot.Summary is { } summary)
                WriteSummary(json, summary);
            json.WriteEndObject();
        }

        output.WriteByte((byte)'\n');
    }

    private static void WriteSummary(Utf8JsonWriter json, QueueSummary summary)
    {
        json.WriteNumber("lines", summary.Lines);
        json.WriteNumber("malformed_lines", summary.MalformedLines);
        json.WriteNumber("messages", summary.Messages);
        json.WriteNumber("bytes", summary.Bytes);
        json.WriteStartObject("queues");
        foreach (var queue in summary.Queues)
        {
            json.WriteStartObject(queue.Name);
            json.WriteNumber("messages", queue.Messages);
            json.WriteNumber("recipients", queue.Recipients);
            json.WriteNumber("bytes", queue.Bytes);
            if (queue.OldestArrival is { } oldest)
                json.WriteNumber("oldest_arrival", oldest.ToUnixTimeSeconds());
            else
                json.WriteNull("oldest_arrival");
            json.WriteNumber("oldest_age_seconds", Math.Round(summary.OldestAgeSeconds(queue.Queue), 3));
            json.WriteStartObject("age_histogram");
            for (int b = 0; b < queue.AgeBucketCounts.Count; b++)
            {
                string le = b < summary.AgeBucketBounds.Count ? summary.AgeBucketBounds[b].ToString("R") : "+Inf";
                json.WriteNumber(le, queue.AgeBucketCounts[b]);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteStartObject("deferred_by_reason");
        for (int i = 0; i < DeferralReasons.Count; i++)
            json.WriteNumber(DeferralReasons.Labels[i], summary.DeferredByReason[i]);
        json.WriteEndObject();
        json.WriteStartArray("deferred_top_domains");
        foreach (var domain in summary.TopDeferredDomains)
        {
            json.WriteStartObject();
            json.WriteString("domain", domain.Domain);
            json.WriteNumber("recipients", domain.Recipients);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteNumber("deferred_other_domains_recipients", summary.OtherDeferredDomainRecipients);
    }
}
