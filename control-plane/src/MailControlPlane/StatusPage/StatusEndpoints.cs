using System.Globalization;
using System.Text.Json;
using MailControlPlane.Connections;
using MailControlPlane.Scoring;
using MailControlPlane.Routing;

namespace MailControlPlane.StatusPage;

/// <summary>
/// The status page at <c>/</c>: static HTML, JavaScript and CSS embedded in the binary (no CDN, no
/// build step), and the two JSON documents it reads every few seconds: <c>/api/status</c> (routing
/// order, providers with whether the table has their row, agents; <c>mailagent doctor</c>'s Platform items read it too) and <c>/api/history</c> (each provider's score over the last hour, from
/// the health log, plus the current verdict).
/// </summary>
internal static class StatusEndpoints
{
    private static readonly (string Path, string Resource, string ContentType)[] Assets =
    [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/status.js", "status.js", "text/javascript; charset=utf-8"),
        ("/status.css", "status.css", "text/css; charset=utf-8"),
    ];

    public static void MapStatusPage(this WebApplication app, TimeProvider time)
    {
        foreach (var (path, resource, contentType) in Assets)
        {
            var bytes = Read(resource);
            app.MapGet(path, () => Results.Bytes(bytes, contentType));
        }

        app.MapGet("/api/status", (CancellationToken cancellationToken) => StatusAsync(app.Services, time, cancellationToken));
        app.MapGet("/api/history", (CancellationToken cancellationToken) => HistoryAsync(app.Services, time, cancellationToken));
    }

    private static byte[] Read(string name)
    {
        using var stream = typeof(StatusEndpoints).Assembly.GetManifestResourceStream("MailControlPlane.StatusPage." + name)
            ?? throw new InvalidOperationException($"status page asset {name} is not embedded");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static async Task<IResult> StatusAsync(IServiceProvider services, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var board = services.GetRequiredService<ProviderBoard>().Latest().ToDictionary(a => a.ProviderName, StringComparer.Ordinal);
        var connections = services.GetRequiredService<AgentConnections>().All;
        var byProvider = connections.ToDictionary(c => c.Agent.ProviderName, StringComparer.Ordinal);
        IReadOnlyList<RoutedProvider> order = [];
        IReadOnlyList<ProviderRow>? rows = null;
        string routingError = "";
        try
        {
            order = await services.GetRequiredService<IRoutingOrderReader>().ReadOrderAsync(cancellationToken);
            rows = await services.GetRequiredService<IProviderRowReader>().ReadEmailRowsAsync(cancellationToken);
        }
#pragma warning disable CA1031 // The page shows what it can: a database outage is one of the things it reports.
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            routingError = e.Message;
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("generatedAt", now);
            json.WriteString("routingDatabase", services.GetRequiredService<RoutingOptions>().UsesPostgres ? "postgresql" : "sqlite");
            if (routingError.Length > 0)
                json.WriteString("routingError", routingError);
            json.WriteStartArray("providers");
            var listed = new HashSet<string>(StringComparer.Ordinal);
            int position = 0;
            foreach (var row in order)
            {
                if (!listed.Add(row.ProviderName))
                    continue;
                WriteProvider(json, row.ProviderName, ++position, ScoreOf(row.ConfigJson), RowOf(row.ProviderName, rows), board, byProvider);
            }

            // Out of rotation, without a position: rows with is_active false, and the agents' providers (scored or not) whose row
            // is inactive or missing.
            var others = board.Keys.Concat(byProvider.Keys).Concat(rows?.Select(r => r.ProviderName) ?? [])
                .Where(n => !listed.Contains(n)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
            foreach (var name in others)
                WriteProvider(json, name, null, null, RowOf(name, rows), board, byProvider);
            json.WriteEndArray();

            json.WriteStartArray("agents");
            foreach (var c in connections)
            {
                var s = c.Snapshot();
                json.WriteStartObject();
                json.WriteString("name", s.Agent.Name);
                json.WriteString("provider", s.Agent.ProviderName);
                json.WriteString("address", s.Agent.Address.ToString());
                json.WriteString("region", s.Agent.Region);
                json.WriteString("state", s.State.ToString());
                if (s.LastHeartbeat is { } seen)
                {
                    json.WriteString("lastSeen", seen);
                    json.WriteNumber("lastSeenAgeSeconds", Math.Round(Math.Max(0, (now - seen).TotalSeconds), 1));
                }

                if (s.LastError.Length > 0)
                    json.WriteString("lastError", s.LastError);
                json.WriteStartArray("checks");
                foreach (var check in s.Checks)
                {
                    json.WriteStartObject();
                    json.WriteString("name", check.Name);
                    json.WriteString("status", check.Status.ToString());
                    json.WriteString("reason", check.Reason);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Results.Bytes(buffer.ToArray(), "application/json");
    }

    /// <summary>What the table holds for a provider: active (in the routing order), inactive (rows, none active), missing, or unknown (the table could not be read).</summary>
    private static string RowOf(string name, IReadOnlyList<ProviderRow>? rows)
    {
        if (rows == null)
            return "unknown";
        var mine = rows.Where(r => string.Equals(r.ProviderName, name, StringComparison.Ordinal)).ToArray();
        return mine.Length == 0 ? "missing" : mine.Any(r => r.IsActive) ? "active" : "inactive";
    }

    private static void WriteProvider(Utf8JsonWriter json, string name, int? position, int? tableScore, string row,
        Dictionary<string, Scoring.ProviderAssessment> board, Dictionary<string, AgentConnection> byProvider)
    {
        json.WriteStartObject();
        json.WriteString("name", name);
        if (position is { } p)
            json.WriteNumber("position", p);
        else
            json.WriteNull("position");
        json.WriteString("row", row);
        if (board.TryGetValue(name, out var a))
        {
            json.WriteNumber("score", a.Score);
            json.WriteString("state", a.State.ToString().ToLowerInvariant());
            json.WriteBoolean("isActive", a.IsActive);
            json.WriteString("reason", a.Reason);
            json.WriteString("evaluatedAt", a.EvaluatedAt);
        }
        else if (byProvider.ContainsKey(name))
        {
            // An agent's provider before its first evaluation.
            json.WriteString("state", "not scored yet");
            json.WriteBoolean("isActive", position != null);
            json.WriteString("reason", "the control plane has not evaluated this provider yet");
        }
        else
        {
            // Not backed by an agent (a paid provider): what the table says.
            if (tableScore is { } s)
                json.WriteNumber("score", s);
            json.WriteString("state", "no agent");
            json.WriteBoolean("isActive", position != null);
            json.WriteString("reason", "not scored by the control plane");
        }

        if (byProvider.TryGetValue(name, out var connection))
        {
            json.WriteString("agent", connection.Agent.Name);
            if (connection.ResponseTime is { } rt)
                json.WriteNumber("responseMs", Math.Round(rt.TotalMilliseconds, 1));
        }

        json.WriteEndObject();
    }

    private static int? ScoreOf(string configJson)
    {
        try
        {
            using var doc = JsonDocument.Parse(configJson);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("health_score", out var s)
                && s.TryGetInt32(out var score) ? score : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task<IResult> HistoryAsync(IServiceProvider services, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var since = now.AddHours(-1);
        IReadOnlyList<HealthPoint> points = [];
        string error = "";
        try
        {
            points = await services.GetRequiredService<IHealthHistoryReader>().ReadHistoryAsync(since, 20_000, cancellationToken);
        }
#pragma warning disable CA1031 // Shown on the page.
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            error = e.Message;
        }

        var series = points.GroupBy(p => p.ProviderName, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var a in services.GetRequiredService<ProviderBoard>().Latest())
        {
            if (!series.TryGetValue(a.ProviderName, out var list))
                series[a.ProviderName] = list = [];
            list.Add(new HealthPoint(a.ProviderName, a.EvaluatedAt, a.Score, a.State.ToString().ToLowerInvariant()));
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("since", since);
            json.WriteString("until", now);
            if (error.Length > 0)
                json.WriteString("error", error);
            json.WriteStartObject("series");
            foreach (var (name, list) in series.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                json.WriteStartArray(name);
                foreach (var p in list)
                {
                    json.WriteStartObject();
                    json.WriteString("at", p.At.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
                    json.WriteNumber("score", p.Score);
                    json.WriteString("state", p.State);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return Results.Bytes(buffer.ToArray(), "application/json");
    }
}
