using System.Globalization;
using System.Text;
using System.Text.Json;
using MailControlPlane.Scoring;

namespace MailControlPlane.Routing;

/// <summary>Builds <c>messaging_provider_health_logs</c> rows from the scorer's verdicts.</summary>
internal static class HealthLogEntries
{
    /// <summary>A row for a state change (the host enqueues these).</summary>
    public const string StateChange = "state_change";

    /// <summary>A row for an is_active flip without a state change (the host enqueues these).</summary>
    public const string ActiveChange = "active_change";

    /// <summary>A row the writer adds every Routing:HealthLogInterval.</summary>
    public const string Periodic = "periodic";

    /// <summary>
    /// The table's vocabulary is healthy / degraded / failed. Probation (back in rotation, on trial) is
    /// degraded; Unknown (no heartbeat for 30 s, score frozen) is degraded too: not known to be
    /// failing, not known to be well. The exact state is in metadata.state.
    /// </summary>
    public static string StatusOf(ProviderState state) => state switch
    {
        ProviderState.Healthy => "healthy",
        ProviderState.Failed => "failed",
        _ => "degraded",
    };

    /// <summary>The row for <paramref name="assessment"/>; metadata holds kind, state, score, is_active and the components.</summary>
    public static HealthLogEntry From(ProviderAssessment assessment, string kind)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("kind", kind);
            json.WriteString("state", assessment.State.ToString().ToLowerInvariant());
            json.WriteNumber("score", assessment.Score);
            json.WriteBoolean("is_active", assessment.IsActive);
            json.WriteString("evaluated_at", assessment.EvaluatedAt.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            json.WriteStartObject("components");
            foreach (var (name, value) in assessment.Components.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                json.WriteNumber(name, double.IsFinite(value) ? Math.Round(value, 4) : 0);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return new HealthLogEntry(
            assessment.ProviderName,
            StatusOf(assessment.State),
            assessment.Reason,
            Encoding.UTF8.GetString(buffer.ToArray()),
            assessment.EvaluatedAt,
            assessment.ResponseTimeMs);
    }
}
