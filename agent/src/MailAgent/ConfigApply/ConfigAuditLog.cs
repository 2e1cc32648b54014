using System.Text.Encodings.Web;
using System.Text.Json;

namespace MailAgent.ConfigApply;

/// <summary>
/// One JSON line per ApplyConfig request (ConfigApply:AuditLogPath): time, who, idempotency key, the
/// request, result, reason, diff, and main.cf's hash before and after. A line that cannot be written
/// is logged (event 6103); the apply itself has already happened or not by then.
/// </summary>
internal sealed class ConfigAuditLog(string path, TimeProvider time, ILogger logger)
{
    private readonly Lock _sync = new();

    public string Path => path;

    public void Write(ConfigApplyRequest request, ConfigApplyReply reply, string oldHash)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("time", time.GetUtcNow());
            json.WriteString("kind", ConfigApplyKind);
            json.WriteNumber("pid", Environment.ProcessId);
            json.WriteString("who", request.Caller);
            json.WriteString("idempotency_key", request.IdempotencyKey);
            json.WriteStartObject("request");
            json.WriteStartObject("set");
            foreach (var (name, value) in request.Set.OrderBy(p => p.Key, StringComparer.Ordinal))
                json.WriteString(name, value);
            json.WriteEndObject();
            json.WriteStartArray("remove");
            foreach (var name in request.Remove)
                json.WriteStringValue(name);
            json.WriteEndArray();
            json.WriteString("expected_hash", request.ExpectedHash);
            json.WriteBoolean("dry_run", request.DryRun);
            json.WriteEndObject();
            json.WriteString("result", ConfigApplyReply.Label(reply.Result));
            json.WriteString("reason", reply.Reason);
            json.WriteStartArray("diff");
            foreach (var change in reply.Diff)
            {
                json.WriteStartObject();
                json.WriteString("name", change.Name);
                json.WriteString("old", change.OldValue);
                json.WriteString("new", change.NewValue);
                json.WriteBoolean("removed", change.Removed);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteString("old_hash", oldHash);
            json.WriteString("new_hash", reply.ConfigHash);
            json.WriteEndObject();
        }

        Append(buffer);
    }

    /// <summary>
    /// One line for a certificate deployment run outside the daemon (<c>mailagent cert-deployed</c>, the
    /// certbot hook), so the daemon, which follows this file, counts it in mailagent_cert_reloads_total.
    /// </summary>
    public void WriteCertificateReload(string who, string result, string reason)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("time", time.GetUtcNow());
            json.WriteString("kind", CertificateReloadKind);
            json.WriteNumber("pid", Environment.ProcessId);
            json.WriteString("who", who);
            json.WriteString("result", result);
            json.WriteString("reason", reason);
            json.WriteEndObject();
        }

        Append(buffer);
    }

    public const string ConfigApplyKind = "config_apply";
    public const string CertificateReloadKind = "cert_reload";

    private void Append(MemoryStream buffer)
    {
        buffer.WriteByte((byte)'\n');
        try
        {
            lock (_sync)
            {
                if (System.IO.Path.GetDirectoryName(path) is { Length: > 0 } directory)
                    Directory.CreateDirectory(directory);
                using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
                buffer.Position = 0;
                buffer.CopyTo(file);
                file.Flush(flushToDisk: true);
                FileOwner.LikeParent(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.AuditFailed(logger, path, e.Message);
        }
    }
}
