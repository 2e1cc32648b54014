using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MailAgent.Doctor;

/// <summary>Runs every group and renders the report as text (for a person) or JSON (for a script).</summary>
internal static class DoctorRunner
{
    public static async Task<DoctorReport> RunAsync(IEnumerable<IDoctorCheck> checks, CancellationToken cancellationToken)
    {
        var items = new List<DoctorItem>();
        foreach (var check in checks)
            items.AddRange(await check.RunAsync(cancellationToken));
        // Checklist order: by group, then in the order each group gave its items.
        return new DoctorReport(items.Select((item, index) => (item, index))
            .OrderBy(x => IndexOf(x.item.Group)).ThenBy(x => x.index).Select(x => x.item).ToArray());
    }

    private static int IndexOf(string group)
    {
        int i = DoctorGroup.Order.ToList().IndexOf(group);
        return i < 0 ? int.MaxValue : i;
    }

    public static string Text(DoctorReport report)
    {
        var text = new StringBuilder();
        foreach (var group in report.Items.GroupBy(i => i.Group))
        {
            text.Append(group.Key).Append('\n');
            foreach (var item in group)
            {
                text.Append("  [").Append(Label(item.Status)).Append("] ").Append(item.Title).Append(" (").Append(item.Id).Append(")\n");
                text.Append("         ").Append(item.Why).Append('\n');
                foreach (var e in item.Evidence)
                    text.Append("         | ").Append(e).Append('\n');
                if (item.Status is DoctorStatus.Fail or DoctorStatus.Warn or DoctorStatus.Skip)
                    text.Append("         fix: ").Append(item.Fix).Append('\n');
            }

            text.Append('\n');
        }

        text.Append($"{report.Count(DoctorStatus.Pass)} pass, {report.Count(DoctorStatus.Warn)} warn, {report.Count(DoctorStatus.Fail)} fail, {report.Count(DoctorStatus.Skip)} skip\n");
        return text.ToString();
    }

    public static void Json(Stream output, DoctorReport report)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("status", report.ExitCode == 0 ? "ok" : "fail");
        json.WriteStartObject("counts");
        foreach (var status in Enum.GetValues<DoctorStatus>())
            json.WriteNumber(Label(status).Trim().ToLowerInvariant(), report.Count(status));
        json.WriteEndObject();
        json.WriteStartArray("items");
        foreach (var item in report.Items)
        {
            json.WriteStartObject();
            json.WriteString("group", item.Group);
            json.WriteString("id", item.Id);
            json.WriteString("title", item.Title);
            json.WriteString("status", Label(item.Status).Trim().ToLowerInvariant());
            json.WriteString("why", item.Why);
            json.WriteStartArray("evidence");
            foreach (var e in item.Evidence)
                json.WriteStringValue(e);
            json.WriteEndArray();
            json.WriteString("fix", item.Fix);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static string Label(DoctorStatus status) => status switch
    {
        DoctorStatus.Pass => "PASS",
        DoctorStatus.Warn => "WARN",
        DoctorStatus.Fail => "FAIL",
        _ => "SKIP",
    };
}
