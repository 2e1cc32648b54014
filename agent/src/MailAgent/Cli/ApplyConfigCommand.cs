using System.Text;
using MailAgent.Config;
using MailAgent.ConfigApply;
using MailAgent.Postfix;
using Microsoft.Extensions.Logging.Abstractions;

namespace MailAgent.Cli;

/// <summary><c>mailagent apply-config FILE [--dry-run]</c>: the daemon's ApplyConfig, run locally.</summary>
internal static class ApplyConfigCommand
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public const string Usage = """
        NAME
            mailagent apply-config - set or remove Postfix main.cf parameters safely

        SYNOPSIS
            mailagent apply-config FILE [--dry-run] [--expected-hash HASH] [--idempotency-key KEY]
                                   [--config FILE] [Section:Key=value ...]

        DESCRIPTION
            Reads the change from FILE (- for standard input), in main.cf syntax:
                name = value        set the parameter (a line starting with white space continues
                                    the value of the line before, as in main.cf)
                -name               remove the parameter (postconf -X)
                # comment           blank lines and comments are ignored
            Every name must be on ConfigApply:AllowedParameters and known to 'postconf -d'; values
            must be one line without control characters, '$(' or backticks; FILE must be UTF-8.
            A dangerous change (redirects or copies mail, sends mail data to another service,
            downgrades TLS, or names a file outside the configuration directory) also needs the
            name on ConfigApply:AllowDangerous (empty by default). Then, like the daemon's
            ApplyConfig: compares main.cf's SHA-256 with --expected-hash, diffs against 'postconf -n'
            (nothing to change: unchanged), stages a copy of the configuration directory and changes
            it with 'postconf -c STAGE -e/-X', checks it ('postconf -n' prints no warning, files the
            new values name exist, 'postfix check'), snapshots main.cf and master.cf, renames the new
            main.cf into place, runs 'postfix reload' ('postfix stop' and 'start' for inet_interfaces
            or inet_protocols), and verifies within ConfigApply:VerifyTimeout that the master runs,
            that the Postfix log (LogTailing:Path) has no fatal: or panic: line since the reload and
            that Health:SmtpEndpoints answer 220. Any failure restores the snapshot byte for byte and
            reloads again. Only one apply runs at a time, also against a running daemon (a lock file
            in the staging directory). Each request is written to ConfigApply:AuditLogPath as one
            JSON line, with local:UID/USER as the caller.

        OPTIONS
            --dry-run               stage and check only; change nothing
            --expected-hash HASH    refuse unless main.cf's SHA-256 (lower-case hex) is HASH
            --idempotency-key KEY   recorded in the audit log (replies are remembered by the daemon only)
            --config FILE           the agent's configuration [/etc/mailagent/agent.json]
            Section:Key=value       any agent setting, e.g. Postfix:ConfigDirectory=/etc/postfix-out

        EXIT STATUS
            0  applied, unchanged, or dry run passed
            1  rejected or rolled back (the reason is printed)
            2  usage or configuration error

        FILES
            /etc/mailagent/agent.json           the agent's configuration (--config FILE replaces it)
            /var/log/mailagent/config-audit.log one JSON line per request (ConfigApply:AuditLogPath)
            /etc/postfix/main.cf                what is changed (Postfix:ConfigDirectory)

        EXAMPLES
            printf 'smtp_destination_rate_delay = 1s\n-relayhost\n' > change.cf
            mailagent apply-config change.cf --dry-run
            mailagent apply-config change.cf --expected-hash "$(sha256sum /etc/postfix/main.cf | cut -d' ' -f1)"
        """;

    /// <summary>Applies the change in <paramref name="file"/> (- for standard input) as the daemon's ApplyConfig would.</summary>
    public static async Task<int> RunAsync(string file, string expectedHash, string key, bool dryRun, List<string> settings, CliContext context)
    {
        var config = AgentConfiguration.Build(settings, out _, out var errors);
        errors.AddRange(AgentConfiguration.Validate(config, out var agent));
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            return 2;
        }

        // The rollback verification reads the same log the daemon follows.
        if (string.IsNullOrWhiteSpace(config["LogTailing:Path"]))
            (agent.Tail.Path, _) = await MailAgent.Config.LogPathDefault.ResolveAsync(new MailAgent.Postfix.PostfixCommands(agent.Postfix), CancellationToken.None);

        string text;
        try
        {
            // Strict UTF-8: an invalid byte is refused, never turned into U+FFFD and written to main.cf.
            byte[] bytes;
            if (file == "-")
            {
                using var buffer = new MemoryStream();
                await context.InStream.CopyToAsync(buffer);
                bytes = buffer.ToArray();
            }
            else
                bytes = await File.ReadAllBytesAsync(file);
            int bom = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
            text = StrictUtf8.GetString(bytes, bom, bytes.Length - bom);
        }
        catch (DecoderFallbackException e)
        {
            await context.Error.WriteLineAsync($"apply-config: {file}: not valid UTF-8 (byte offset {e.Index}); nothing was changed");
            return 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await context.Error.WriteLineAsync($"apply-config: cannot read {file}: {e.Message}");
            return 2;
        }

        if (!ChangeFile.TryParse(text, out var set, out var remove, out var problem))
        {
            await context.Error.WriteLineAsync($"apply-config: {file}: {problem}");
            return 2;
        }

        var applier = ConfigApplyServiceCollectionExtensions.Create(agent.ConfigApply, agent.Postfix, agent.Tail, agent.Health, new PostfixCommands(agent.Postfix),
            Prometheus.Metrics.NewCustomRegistry(), context.Time, NullLoggerFactory.Instance);
        var reply = await applier.ApplyAsync(new ConfigApplyRequest(set, remove, expectedHash, key, dryRun, LocalCaller()), CancellationToken.None);

        await context.Out.WriteLineAsync($"result: {ConfigApplyReply.Label(reply.Result)}");
        if (reply.Reason.Length > 0)
            await context.Out.WriteLineAsync($"reason: {reply.Reason}");
        foreach (var c in reply.Diff)
        {
            await context.Out.WriteLineAsync(c.Removed
                ? $"- {c.Name} = {c.OldValue}"
                : c.OldValue.Length == 0 ? $"+ {c.Name} = {c.NewValue}" : $"~ {c.Name} = {c.OldValue} -> {c.NewValue}");
        }

        foreach (var m in reply.Messages)
            await context.Out.WriteLineAsync($"  {m}");
        await context.Out.WriteLineAsync($"config_hash: {reply.ConfigHash}");
        await context.Out.FlushAsync();
        return reply.Result is ConfigApplyResult.Rejected or ConfigApplyResult.RolledBack ? 1 : 0;
    }

    /// <summary><c>local:UID/USER</c> for the audit log.</summary>
    private static string LocalCaller()
    {
        string uid = "?";
        try
        {
            uid = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?
                .Split('\t', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1) ?? "?";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux: the user name alone.
        }

        return $"local:{uid}/{Environment.UserName}";
    }
}

/// <summary>The change file of <c>mailagent apply-config</c>: main.cf lines set, <c>-name</c> lines remove.</summary>
internal static class ChangeFile
{
    public static bool TryParse(string text, out Dictionary<string, string> set, out List<string> remove, out string problem)
    {
        set = new Dictionary<string, string>(StringComparer.Ordinal);
        remove = [];
        problem = "";
        string? lastName = null;
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n];
            string trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
                continue;
            if (char.IsWhiteSpace(line[0]))
            {
                if (lastName == null)
                {
                    problem = $"line {n + 1} continues nothing (it starts with white space)";
                    return false;
                }

                set[lastName] = set[lastName] + " " + trimmed;
                continue;
            }

            lastName = null;
            string? name;
            if (trimmed.StartsWith('-') || trimmed.StartsWith('!'))
            {
                name = trimmed[1..].Trim();
                if (remove.Contains(name) || set.ContainsKey(name))
                {
                    problem = $"line {n + 1}: {name} appears twice";
                    return false;
                }

                remove.Add(name);
                continue;
            }

            int eq = trimmed.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                problem = $"line {n + 1} is neither 'name = value' nor '-name'";
                return false;
            }

            name = trimmed[..eq].Trim();
            if (set.ContainsKey(name) || remove.Contains(name))
            {
                problem = $"line {n + 1}: {name} appears twice";
                return false;
            }

            set[name] = trimmed[(eq + 1)..].Trim();
            lastName = name;
        }

        if (set.Count == 0 && remove.Count == 0)
        {
            problem = "no parameter to set or remove";
            return false;
        }

        return true;
    }
}
