using System.Text;
using System.Text.Json;
using MailAgent.Certificates;

namespace MailAgent.ConfigApply;

/// <summary>
/// The daemon's one view of changes: follows the audit log that <c>mailagent apply-config</c> and
/// <c>mailagent cert-deployed</c> (the certbot hook) write, and counts what other processes did in
/// mailagent_config_applies_total / mailagent_cert_reloads_total and the config check, as if the daemon
/// had done it. Its own lines (same pid) are already counted. Starts at the end of the file: what
/// happened before the daemon started is not re-counted.
/// </summary>
internal sealed class AuditLogFollower(
    string path, TimeSpan interval, ConfigApplier applier, CertificateMetrics? certificates, TimeProvider time, ILogger<AuditLogFollower> logger) : BackgroundService
{
    private long _position = -1;
    private long _inode = -1;
    private bool _failing;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Poll(atStart: true);
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
            Poll(atStart: false);
    }

    /// <summary>Reads what was appended since the last call and counts it.</summary>
    internal void Poll(bool atStart)
    {
        try
        {
            if (!File.Exists(path))
            {
                // Not written yet: the first line that appears is new.
                _position = 0;
                _inode = -1;
                return;
            }

            using var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete });
            long inode = Inode(stream);
            if (atStart || _position < 0)
            {
                _position = stream.Length;
                _inode = inode;
                return;
            }

            if (inode != _inode || stream.Length < _position)
            {
                // Rotated or truncated: the new file is read from its start.
                _position = 0;
                _inode = inode;
            }

            if (stream.Length == _position)
                return;
            stream.Seek(_position, SeekOrigin.Begin);
            var bytes = new byte[stream.Length - _position];
            stream.ReadExactly(bytes);
            int end = Array.LastIndexOf(bytes, (byte)'\n');
            if (end < 0)
                return; // a line still being written
            _position += end + 1;
            foreach (var line in Encoding.UTF8.GetString(bytes, 0, end).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                Observe(line);
            _failing = false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (!_failing)
                Log.AuditFollowFailed(logger, path, e.Message);
            _failing = true;
        }
    }

    private void Observe(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.TryGetProperty("pid", out var pid) && pid.TryGetInt32(out int p) && p == Environment.ProcessId)
                return;
            string kind = root.TryGetProperty("kind", out var k) ? k.GetString() ?? "" : ConfigAuditLog.ConfigApplyKind;
            string result = root.TryGetProperty("result", out var r) ? r.GetString() ?? "" : "";
            string who = root.TryGetProperty("who", out var w) ? w.GetString() ?? "" : "";
            string reason = root.TryGetProperty("reason", out var why) ? why.GetString() ?? "" : "";
            var at = root.TryGetProperty("time", out var t) && t.TryGetDateTimeOffset(out var parsed) ? parsed : time.GetUtcNow();
            if (kind == ConfigAuditLog.ConfigApplyKind)
            {
                applier.ObserveExternal(result, who, reason, at);
            }
            else if (kind == ConfigAuditLog.CertificateReloadKind && certificates != null)
            {
                var outcome = Enum.GetValues<CertificateReloadResult>().Where(c => CertificateMetrics.Label(c) == result).Cast<CertificateReloadResult?>().FirstOrDefault();
                if (outcome is { } o)
                {
                    certificates.Reload(o);
                    Log.ExternalCertificateReload(logger, who, result, reason);
                }
            }
        }
        catch (JsonException)
        {
            // Not a line of ours (or a torn one): ignored, never fatal.
        }
    }

    private static long Inode(FileStream stream)
    {
        var identity = MailAgent.LogTailing.FileIdentity.OfHandle(stream.SafeFileHandle);
        return (long)identity.Inode;
    }
}
