using System.Text;
using MailAgent.Postfix;
using Prometheus;

namespace MailAgent.ConfigApply;

/// <summary>Where the applier works: the instance's files and what verification probes.</summary>
internal sealed record ConfigApplierSettings(
    ConfigApplyOptions Options, string ConfigDirectory, string StagingDirectory, string PostfixLogPath, IReadOnlyList<string> SmtpEndpoints);

/// <summary>
/// Applies main.cf changes safely: validate, compare the hash, diff, stage a copy and check it, snapshot,
/// swap main.cf in with a rename, reload, verify, and restore the snapshot byte for byte on any failure.
/// One request at a time, in this process (a semaphore) and across processes (a lock file in the staging
/// directory), so the daemon and <c>mailagent apply-config</c> never interleave.
/// </summary>
internal sealed class ConfigApplier : IDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan PostfixCommandTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);
    private const int SnapshotsKept = 5;

    private readonly ConfigApplierSettings _settings;
    private readonly IPostfixCommands _postfix;
    private readonly Func<string, CancellationToken, Task<string?>> _probe;
    private readonly ConfigAuditLog _audit;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly AllowList _allowList;
    private readonly AllowList _allowDangerous;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _sync = new();
    private readonly Dictionary<string, ConfigApplyReply> _replies = new(StringComparer.Ordinal);
    private readonly Queue<string> _replyOrder = new();
    private readonly Counter _total;
    private readonly Gauge _inProgress;
    private DateTimeOffset? _inProgressSince;
    private (DateTimeOffset At, string Reason)? _lastRollback;
    private bool _recovering;

    public ConfigApplier(ConfigApplierSettings settings, IPostfixCommands postfix, Func<string, CancellationToken, Task<string?>> probe, ConfigAuditLog audit,
        CollectorRegistry registry, TimeProvider time, ILogger logger)
    {
        _settings = settings;
        _postfix = postfix;
        _probe = probe;
        _audit = audit;
        _time = time;
        _logger = logger;
        _allowList = new AllowList(settings.Options.AllowedPatterns());
        _allowDangerous = new AllowList(settings.Options.DangerousPatterns());
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        _total = factory.CreateCounter("mailagent_config_applies_total", "ApplyConfig requests by result.", "result");
        foreach (var r in Enum.GetValues<ConfigApplyResult>())
            _total.WithLabels(ConfigApplyReply.Label(r)).IncTo(0);
        var state = ConfigApplyState.Load(StatePath);
        foreach (var stored in state.Replies.Where(r => r.Key.Length > 0 && r.Reply != null).TakeLast(Math.Max(0, settings.Options.IdempotencyKeysKept)))
        {
            if (_replies.TryAdd(stored.Key, stored.Reply!))
                _replyOrder.Enqueue(stored.Key);
        }

        _recovering = state.Recovering;
        _inProgress = factory.CreateGauge("mailagent_config_apply_in_progress", "1 while a config apply runs (from waiting for the lock to the reply).");
    }

    private string MainCf => Path.Combine(_settings.ConfigDirectory, "main.cf");

    /// <summary>Idempotency replies and the recovering flag, kept across restarts.</summary>
    private string StatePath => Path.Combine(_settings.StagingDirectory, "idempotency.json");

    /// <summary>Since when an apply has been running, or null.</summary>
    public DateTimeOffset? InProgressSince
    {
        get { lock (_sync) return _inProgressSince; }
    }

    /// <summary>The last rollback: when and why, or null.</summary>
    public (DateTimeOffset At, string Reason)? LastRollback
    {
        get { lock (_sync) return _lastRollback; }
    }

    /// <summary>SHA-256 (lower-case hex) of main.cf as it is now; empty when it cannot be read.</summary>
    public string CurrentHash()
    {
        try
        {
            return ConfigRules.Sha256Hex(File.ReadAllBytes(MainCf));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    public async Task<ConfigApplyReply> ApplyAsync(ConfigApplyRequest request, CancellationToken cancellationToken)
    {
        string oldHash = CurrentHash();
        if (!await _gate.WaitAsync(_settings.Options.LockTimeout, cancellationToken))
        {
            var busy = Reply(ConfigApplyResult.Rejected, $"another config apply is still running after {_settings.Options.LockTimeout}; try again", [], oldHash, []);
            return Finish(request, busy, oldHash, remember: false);
        }

        try
        {
            lock (_sync)
                _inProgressSince = _time.GetUtcNow();
            _inProgress.Set(1);
            if (request.IdempotencyKey.Length > 0)
            {
                ConfigApplyReply? cached;
                lock (_sync)
                    _replies.TryGetValue(request.IdempotencyKey, out cached);
                if (cached != null)
                    return Finish(request, cached with { Messages = [.. cached.Messages, $"idempotency key '{request.IdempotencyKey}' seen before: this is the first reply, nothing was done again"] }, CurrentHash(), remember: false);
            }

            using var fileLock = await AcquireFileLockAsync(cancellationToken);
            if (fileLock == null)
            {
                var busy = Reply(ConfigApplyResult.Rejected, $"another process holds {LockPath} (mailagent apply-config or the daemon) after {_settings.Options.LockTimeout}; try again", [], CurrentHash(), []);
                return Finish(request, busy, oldHash, remember: false);
            }

            oldHash = CurrentHash();
            var reply = await ApplyLockedAsync(request, oldHash, cancellationToken);
            return Finish(request, reply, oldHash, remember: true);
        }
        finally
        {
            lock (_sync)
                _inProgressSince = null;
            _inProgress.Set(0);
            // An apply run as root leaves nothing under the state directory the daemon's user cannot write.
            FileOwner.TreeLikeParent(_settings.StagingDirectory);
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();

    private ConfigApplyReply Finish(ConfigApplyRequest request, ConfigApplyReply reply, string oldHash, bool remember)
    {
        if (remember && request.IdempotencyKey.Length > 0 && _settings.Options.IdempotencyKeysKept > 0)
        {
            lock (_sync)
            {
                if (_replies.TryAdd(request.IdempotencyKey, reply))
                {
                    _replyOrder.Enqueue(request.IdempotencyKey);
                    while (_replyOrder.Count > _settings.Options.IdempotencyKeysKept)
                        _replies.Remove(_replyOrder.Dequeue());
                }
            }

            SaveState();
        }

        if (reply.Result == ConfigApplyResult.RolledBack)
        {
            lock (_sync)
                _lastRollback = (_time.GetUtcNow(), reply.Reason);
            Log.RolledBack(_logger, request.Caller, reply.Reason);
        }

        string label = ConfigApplyReply.Label(reply.Result);
        if (reply.Result != ConfigApplyResult.RolledBack)
            Log.Applied(_logger, request.Caller, label, reply.Diff.Count, reply.Reason);

        _total.WithLabels(label).Inc();
        _audit.Write(request, reply, oldHash);
        return reply;
    }

    // Called under the apply gate; a failure to write is logged and the reply still goes out.
    private void SaveState()
    {
        ConfigApplyState state;
        lock (_sync)
        {
            state = new ConfigApplyState
            {
                Replies = _replyOrder.Select(k => new StoredReply { Key = k, Reply = _replies[k] }).ToList(),
                Recovering = _recovering,
            };
        }

        try
        {
            state.Save(StatePath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.StateNotSaved(_logger, StatePath, e.Message);
        }
    }

    private void SetRecovering(bool recovering)
    {
        lock (_sync)
        {
            if (_recovering == recovering)
                return;
            _recovering = recovering;
        }

        SaveState();
    }

    /// <summary>
    /// An apply another process ran (mailagent apply-config), read from the audit log: counted, and a
    /// rollback degrades the config check as one of the daemon's own would.
    /// </summary>
    public void ObserveExternal(string resultLabel, string who, string reason, DateTimeOffset at)
    {
        if (!Enum.GetValues<ConfigApplyResult>().Any(r => ConfigApplyReply.Label(r) == resultLabel))
            return;
        _total.WithLabels(resultLabel).Inc();
        if (resultLabel == ConfigApplyReply.Label(ConfigApplyResult.RolledBack))
        {
            lock (_sync)
            {
                if (_lastRollback is not { } last || last.At <= at)
                    _lastRollback = (at, reason);
            }
        }

        Log.ExternalApply(_logger, who, resultLabel, reason);
    }

    private static ConfigApplyReply Reply(ConfigApplyResult result, string reason, IReadOnlyList<ConfigChange> diff, string hash, IReadOnlyList<string> messages) =>
        new(result, reason, diff, hash, messages);

    private async Task<ConfigApplyReply> ApplyLockedAsync(ConfigApplyRequest request, string oldHash, CancellationToken cancellationToken)
    {
        var messages = new List<string>();
        if (oldHash.Length == 0)
            return Reply(ConfigApplyResult.Rejected, $"cannot read {MainCf}", [], oldHash, messages);

        // 1. Names and values, before anything runs.
        string? problem = CheckShape(request);
        if (problem != null)
            return Reply(ConfigApplyResult.Rejected, problem, [], oldHash, messages);

        // 2. Optimistic concurrency.
        if (request.ExpectedHash.Length > 0 && !string.Equals(request.ExpectedHash.Trim(), oldHash, StringComparison.OrdinalIgnoreCase))
            return Reply(ConfigApplyResult.Rejected, $"main.cf changed since the caller read it: expected hash {request.ExpectedHash}, current {oldHash}; read it again (GetStatus config_hash) and retry", [], oldHash, messages);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(PostfixCommandTimeout + _settings.Options.VerifyTimeout + _settings.Options.VerifyTimeout);
        var ct = timeout.Token;

        // 3. Names Postfix knows (defaults, including per-service ones from master.cf) and the current explicit settings.
        var defaults = await _postfix.PostconfAsync(["-d"], ct, _settings.ConfigDirectory);
        var explicitRun = await _postfix.PostconfAsync(["-n"], ct, _settings.ConfigDirectory);
        if (!defaults.Succeeded || !explicitRun.Succeeded)
            return Reply(ConfigApplyResult.Rejected, $"postconf failed: {(defaults.Succeeded ? explicitRun : defaults).Output}", [], oldHash, messages);
        var known = ConfigRules.ParsePostconf(defaults.StandardOutput);
        var current = ConfigRules.ParsePostconf(explicitRun.StandardOutput);
        var unknown = request.Set.Keys.Where(n => !known.ContainsKey(n))
            .Concat(request.Remove.Where(n => !known.ContainsKey(n) && !current.ContainsKey(n))).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            return Reply(ConfigApplyResult.Rejected, $"unknown Postfix parameter(s): {string.Join(", ", unknown)} (not in 'postconf -d')", [], oldHash, messages);

        // 4. The diff against what is set now.
        var diff = ConfigRules.Diff(request.Set, request.Remove, current);
        if (diff.Count == 0)
            return Reply(ConfigApplyResult.Unchanged, "every parameter already has the requested value", diff, oldHash, messages);
        var dangers = DangerousChanges.Problems(diff, known, _settings.ConfigDirectory, _allowDangerous);
        if (dangers.Count > 0)
            return Reply(ConfigApplyResult.Rejected, string.Join("; ", dangers), diff, oldHash, messages);

        // The new main.cf is renamed into place: without write access (the unit without the
        // write-access drop-in: ProtectSystem=strict, user mailagent) every later step would fail less clearly.
        if (WriteProblem() is { } cannotWrite)
            return Reply(ConfigApplyResult.Rejected, cannotWrite, diff, oldHash, messages);

        // 5. Stage a copy, change it with postconf, check it.
        string stage = Path.Combine(_settings.StagingDirectory, "stage-" + Stamp());
        try
        {
            CopyConfigFiles(_settings.ConfigDirectory, stage);
            string? stageProblem = await StageAndCheckAsync(stage, diff, messages, ct);
            if (stageProblem != null)
                return Reply(ConfigApplyResult.Rejected, stageProblem, diff, oldHash, messages);
            if (request.DryRun)
                return Reply(ConfigApplyResult.DryRun, "the staged copy passes every check; nothing was changed", diff, oldHash, messages);

            // The previous rollback left Postfix not serving: a change now would be blamed for that.
            bool recovering;
            lock (_sync)
                recovering = _recovering;
            if (recovering)
            {
                if (await ServingProblemAsync(ct) is { } stillDown)
                    return Reply(ConfigApplyResult.Rejected, $"Postfix is still recovering from the previous rollback ({stillDown}); nothing was changed, retry later", diff, oldHash, messages);
                SetRecovering(false);
            }

            // 6. Snapshot, swap, reload, verify; roll back on any failure.
            string snapshot = Path.Combine(_settings.StagingDirectory, "snapshot-" + Stamp());
            CopyConfigFiles(_settings.ConfigDirectory, snapshot, ["main.cf", "master.cf"]);
            PruneSnapshots();
            byte[] snapshotBytes = await File.ReadAllBytesAsync(Path.Combine(snapshot, "main.cf"), ct);
            if (!string.Equals(ConfigRules.Sha256Hex(snapshotBytes), oldHash, StringComparison.Ordinal))
                return Reply(ConfigApplyResult.Rejected, "main.cf changed while the request was checked; retry", diff, CurrentHash(), messages);

            bool restart = diff.Any(c => ConfigRules.RestartParameters.Contains(c.Name));
            long applyLogOffset = LogLength();
            SwapIn(await File.ReadAllBytesAsync(Path.Combine(stage, "main.cf"), ct), messages);
            string? failure = await ReloadAndVerifyAsync(restart, messages, ct);
            if (failure == null)
                return Reply(ConfigApplyResult.Applied, restart ? "applied; Postfix was stopped and started (inet_interfaces/inet_protocols)" : "applied; Postfix reloaded", diff, CurrentHash(), messages);

            var (rollbackProblem, notServing) = await RollBackAsync(snapshotBytes, oldHash, restart, applyLogOffset, messages);
            if (rollbackProblem != null)
                Log.RollbackFailed(_logger, rollbackProblem, snapshot);
            string reason = rollbackProblem != null ? $"{failure}; and the rollback failed: {rollbackProblem}"
                : notServing != null ? $"{failure}; rolled back, but Postfix does not serve yet: {notServing}"
                : failure;
            return Reply(ConfigApplyResult.RolledBack, reason, diff, CurrentHash(), messages);
        }
        finally
        {
            TryDelete(stage);
        }
    }

    /// <summary>Null when a file can be created in the configuration directory; otherwise why not, and the fix.</summary>
    private string? WriteProblem()
    {
        string probe = Path.Combine(_settings.ConfigDirectory, $".mailagent-write-test-{Stamp()}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
            }

            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot write {_settings.ConfigDirectory} ({e.Message}): changing Postfix needs root ('postfix check' and 'postfix reload' are for the superuser). "
                + "Install the write-access drop-in (/usr/share/mailagent/systemd/mailagent-write-access.conf into /etc/systemd/system/mailagent.service.d/, then systemctl daemon-reload and restart mailagent; docs/operations.md), or run 'mailagent apply-config' as root; nothing was changed";
        }
    }

    private string? CheckShape(ConfigApplyRequest request)
    {
        if (request.Set.Count == 0 && request.Remove.Count == 0)
            return "nothing to set or remove";
        var problems = new List<string>();
        foreach (var name in request.Set.Keys.Concat(request.Remove))
        {
            if (!ConfigRules.IsParameterName(name))
                problems.Add($"'{Printable(name)}' is not a Postfix parameter name (lower-case letters, digits, '_' and '-')");
            else if (!_allowList.Allows(name))
                problems.Add($"{name} is not on the allow-list (ConfigApply:AllowedParameters)");
        }

        foreach (var name in request.Remove.Where(request.Set.ContainsKey))
            problems.Add($"{name} is both set and removed");
        foreach (var (name, value) in request.Set)
        {
            if (ConfigRules.ValueProblem(value) is { } problem)
                problems.Add($"the value of {Printable(name)} {problem}");
        }

        return problems.Count == 0 ? null : string.Join("; ", problems.Distinct(StringComparer.Ordinal));
    }

    private static string Printable(string text) => new(text.Select(c => char.IsControl(c) ? '?' : c).Take(200).ToArray());

    private async Task<string?> StageAndCheckAsync(string stage, List<ConfigChange> diff, List<string> messages, CancellationToken ct)
    {
        foreach (var change in diff)
        {
            var run = change.Removed
                ? await _postfix.PostconfAsync(["-X", change.Name], ct, stage)
                : await _postfix.PostconfAsync(["-e", $"{change.Name}={change.NewValue}"], ct, stage);
            if (!run.Succeeded)
                return $"postconf could not stage {change.Name}: {run.Output}";
        }

        var check = await _postfix.PostconfAsync(["-n"], ct, stage);
        var warnings = check.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.Contains("warning:", StringComparison.Ordinal) || l.Contains("fatal:", StringComparison.Ordinal)).ToList();
        messages.AddRange(warnings.Select(w => "postconf -n: " + w));
        if (!check.Succeeded || warnings.Count > 0)
            return $"'postconf -n' on the staged copy complains: {(warnings.Count > 0 ? string.Join("; ", warnings) : check.Output)}";

        var missing = diff.Where(c => !c.Removed).SelectMany(c => ConfigRules.ReferencedFiles(c.NewValue).Where(f => !File.Exists(f)).Select(f => $"{c.Name} needs {f}, which does not exist")).ToList();
        if (missing.Count > 0)
            return string.Join("; ", missing);

        // postfix check on the staged copy: queue_directory and data_directory are the real ones (main.cf is a copy).
        long logOffset = LogLength();
        var postfixCheck = await _postfix.PostfixAsync(["check"], ct, stage);
        var checkLines = postfixCheck.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        messages.AddRange(checkLines.Select(l => "postfix check: " + l));
        if (!postfixCheck.Succeeded)
        {
            // With maillog_file, Postfix writes the reason to its log (through postlogd, a moment later), not to stderr.
            string reason = postfixCheck.Output.Trim();
            for (int poll = 0; reason.Length == 0 && poll < 20; poll++)
            {
                reason = string.Join("; ", ProblemsSince(logOffset));
                if (reason.Length == 0)
                    await Task.Delay(PollInterval, _time, ct);
            }

            return $"'postfix check' on the staged copy failed: {(reason.Length > 0 ? reason : $"exit status {postfixCheck.ExitCode}, and it said nothing on stderr or in {_settings.PostfixLogPath}")}";
        }
        messages.Add("staged copy: postconf -n without warnings, referenced files present, postfix check passed");
        return null;
    }

    private async Task<string?> ReloadAndVerifyAsync(bool restart, List<string> messages, CancellationToken ct)
    {
        long logOffset = LogLength();
        string? reloadProblem = await ReloadAsync(restart, ct);
        if (reloadProblem != null)
            return reloadProblem;
        return await VerifyAsync(logOffset, messages, "verified", ct);
    }

    /// <summary>Status, no fatal/panic since <paramref name="logOffset"/>, SMTP 220 on every endpoint, within VerifyTimeout.</summary>
    private async Task<string?> VerifyAsync(long logOffset, List<string> messages, string what, CancellationToken ct)
    {
        var deadline = _time.GetUtcNow() + _settings.Options.VerifyTimeout;
        string last = "not verified yet";
        while (true)
        {
            string? fatal = FatalSince(logOffset);
            if (fatal != null)
                return $"Postfix logged after the reload: {fatal}";
            var status = await _postfix.PostfixAsync(["status"], ct);
            if (!status.Succeeded)
                last = $"postfix status: {status.Output}";
            else
            {
                var failures = new List<string>();
                foreach (var endpoint in _settings.SmtpEndpoints)
                {
                    if (await ProbeAsync(endpoint, ct) is { } p)
                        failures.Add($"{endpoint}: {p}");
                }

                fatal = FatalSince(logOffset);
                if (fatal != null)
                    return $"Postfix logged after the reload: {fatal}";
                if (failures.Count == 0)
                {
                    messages.Add($"{what}: master running, {(_settings.SmtpEndpoints.Count == 0 ? "no SMTP endpoints configured" : string.Join(", ", _settings.SmtpEndpoints) + " answer 220")}, no fatal/panic in {_settings.PostfixLogPath}");
                    return null;
                }

                last = string.Join("; ", failures);
            }

            if (_time.GetUtcNow() >= deadline)
                return $"not verified within {_settings.Options.VerifyTimeout}: {last}";
            await Task.Delay(PollInterval, _time, ct);
        }
    }

    /// <summary>One look: master running and every endpoint answering; the problem, or null.</summary>
    private async Task<string?> ServingProblemAsync(CancellationToken ct)
    {
        var status = await _postfix.PostfixAsync(["status"], ct);
        if (!status.Succeeded)
            return $"postfix status: {status.Output}";
        var failures = new List<string>();
        foreach (var endpoint in _settings.SmtpEndpoints)
        {
            if (await ProbeAsync(endpoint, ct) is { } p)
                failures.Add($"{endpoint}: {p}");
        }

        return failures.Count == 0 ? null : string.Join("; ", failures);
    }

    private async Task<string?> ProbeAsync(string endpoint, CancellationToken ct)
    {
        using var probeTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        probeTimeout.CancelAfter(ProbeTimeout);
        try
        {
            return await _probe(endpoint, probeTimeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"no SMTP reply within {ProbeTimeout}";
        }
    }

    private async Task<string?> ReloadAsync(bool restart, CancellationToken ct)
    {
        if (restart)
        {
            var stop = await _postfix.PostfixAsync(["stop"], ct);
            if (!stop.Succeeded)
                return $"postfix stop failed: {stop.Output}";
            var start = await _postfix.PostfixAsync(["start"], ct);
            return start.Succeeded ? null : $"postfix start failed: {start.Output}";
        }

        var reload = await _postfix.PostfixAsync(["reload"], ct);
        return reload.Succeeded ? null : $"postfix reload failed: {reload.Output}";
    }

    /// <summary>
    /// Restores the snapshot, reloads (or stops and starts), and verifies as an apply does. A master that
    /// throttles a service after the bad config ("bad command startup -- throttling") keeps throttling
    /// through a reload, so then, or when the verification fails after a reload, Postfix is stopped and
    /// started. Returns the rollback's own failure, and separately why Postfix does not serve yet.
    /// </summary>
    private async Task<(string? Problem, string? NotServing)> RollBackAsync(byte[] snapshot, string oldHash, bool restart, long applyLogOffset, List<string> messages)
    {
        // Not cancellable: a rollback half done is worse than a late reply.
        using var timeout = new CancellationTokenSource((PostfixCommandTimeout * 3) + (_settings.Options.VerifyTimeout * 2));
        try
        {
            SwapIn(snapshot, messages);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ($"cannot restore main.cf: {e.Message}", null);
        }

        string restored = CurrentHash();
        if (!string.Equals(restored, oldHash, StringComparison.Ordinal))
            return ($"main.cf after the restore has hash {restored}, not the snapshot's {oldHash}", null);
        messages.Add($"rolled back: main.cf restored from the snapshot (hash {oldHash})");
        long rollbackLogOffset = LogLength();
        string? reload = await ReloadAsync(restart, timeout.Token);
        if (reload != null && !(await _postfix.PostfixAsync(["status"], timeout.Token)).Succeeded)
        {
            // The master died with the bad main.cf (or was stopped): start it with the old one.
            var start = await _postfix.PostfixAsync(["start"], timeout.Token);
            reload = start.Succeeded ? null : $"{reload}; postfix start failed: {start.Output}";
        }

        if (reload != null)
            return (reload, null);
        messages.Add(restart ? "rolled back: Postfix stopped and started with the old main.cf" : "rolled back: Postfix reloaded with the old main.cf");

        bool restarted = restart;
        if (!restart && ThrottlingSince(applyLogOffset) is { } throttling)
        {
            messages.Add($"rolled back: the master throttles a service ({throttling}), which a reload does not clear: stopping and starting Postfix");
            rollbackLogOffset = LogLength();
            if (await StopStartAsync(timeout.Token) is { } problem)
                return (problem, null);
            restarted = true;
        }

        string? notServing = await VerifyAsync(rollbackLogOffset, messages, "verified after the rollback", timeout.Token);
        if (notServing != null && !restarted)
        {
            messages.Add($"after the rollback: {notServing}; stopping and starting Postfix");
            rollbackLogOffset = LogLength();
            if (await StopStartAsync(timeout.Token) is { } problem)
                return (problem, null);
            notServing = await VerifyAsync(rollbackLogOffset, messages, "verified after the rollback", timeout.Token);
        }

        if (notServing != null)
            messages.Add($"after the rollback Postfix does not serve yet: {notServing}; the next apply is refused until it does");
        SetRecovering(notServing != null);
        return (null, notServing);
    }

    private async Task<string?> StopStartAsync(CancellationToken ct)
    {
        var stop = await _postfix.PostfixAsync(["stop"], ct);
        var start = await _postfix.PostfixAsync(["start"], ct);
        return start.Succeeded ? null : $"postfix start failed: {start.Output}{(stop.Succeeded ? "" : $" (stop: {stop.Output})")}";
    }

    /// <summary>The master's first "-- throttling" line since <paramref name="offset"/>, or null.</summary>
    private string? ThrottlingSince(long offset) => FirstLineSince(offset, l => l.Contains("-- throttling", StringComparison.Ordinal));

    /// <summary>Writes main.cf through a temporary file in the same directory (same mode as the current file) and a rename.</summary>
    private void SwapIn(byte[] content, List<string> messages)
    {
        string temp = Path.Combine(_settings.ConfigDirectory, $".main.cf.mailagent-{Stamp()}");
        File.Copy(MainCf, temp, overwrite: true);
        using (var stream = new FileStream(temp, FileMode.Truncate, FileAccess.Write))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        // The copy belongs to the agent: give it main.cf's owner, group and mode before it takes main.cf's place.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(temp, File.GetUnixFileMode(MainCf));
        if (FileOwner.Of(MainCf) is { } owner && FileOwner.Of(temp) != owner && !FileOwner.Set(temp, owner))
            messages.Add($"main.cf could not keep its owner {owner.Uid}:{owner.Gid} (the agent may not chown); it now belongs to the agent's user");
        File.Move(temp, MainCf, overwrite: true);
    }

    private long LogLength()
    {
        try
        {
            return File.Exists(_settings.PostfixLogPath) ? new FileInfo(_settings.PostfixLogPath).Length : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The warning:, error:, fatal: and panic: lines (at most 5) written to the Postfix log since <paramref name="offset"/>.</summary>
    private List<string> ProblemsSince(long offset)
    {
        var lines = new List<string>();
        try
        {
            if (!File.Exists(_settings.PostfixLogPath))
                return lines;
            using var stream = new FileStream(_settings.PostfixLogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Position = stream.Length >= offset ? offset : 0;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (lines.Count < 5 && reader.ReadLine() is { } line)
            {
                if (line.Contains(" fatal: ", StringComparison.Ordinal) || line.Contains(" panic: ", StringComparison.Ordinal)
                    || line.Contains(" error: ", StringComparison.Ordinal) || line.Contains(" warning: ", StringComparison.Ordinal))
                    lines.Add(line.Trim());
            }
        }
        catch (IOException)
        {
        }

        return lines;
    }

    /// <summary>The first fatal: or panic: line written to the Postfix log since <paramref name="offset"/>.</summary>
    private string? FatalSince(long offset) =>
        FirstLineSince(offset, l => l.Contains(" fatal: ", StringComparison.Ordinal) || l.Contains(" panic: ", StringComparison.Ordinal));

    private string? FirstLineSince(long offset, Func<string, bool> match)
    {
        try
        {
            if (!File.Exists(_settings.PostfixLogPath))
                return null;
            using var stream = new FileStream(_settings.PostfixLogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            // A rotated (shorter) log: read it from the start.
            stream.Position = stream.Length >= offset ? offset : 0;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (reader.ReadLine() is { } line)
            {
                if (match(line))
                    return line.Trim();
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    private string LockPath => Path.Combine(_settings.StagingDirectory, "apply.lock");

    private async Task<FileStream?> AcquireFileLockAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_settings.StagingDirectory);
        var deadline = _time.GetUtcNow() + _settings.Options.LockTimeout;
        while (true)
        {
            try
            {
                return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (_time.GetUtcNow() < deadline)
            {
                await Task.Delay(PollInterval, _time, cancellationToken);
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    private static void CopyConfigFiles(string from, string to, IReadOnlyList<string>? only = null)
    {
        Directory.CreateDirectory(to);
        // Top-level regular files only (main.cf, master.cf, maps kept beside them); File.Copy keeps the mode.
        foreach (var file in only?.Select(n => Path.Combine(from, n)).Where(File.Exists) ?? Directory.EnumerateFiles(from))
        {
            var info = new FileInfo(file);
            if (info.LinkTarget == null && !info.Name.StartsWith(".main.cf.mailagent-", StringComparison.Ordinal))
                File.Copy(file, Path.Combine(to, info.Name), overwrite: true);
        }
    }

    private void PruneSnapshots()
    {
        foreach (var old in Directory.EnumerateDirectories(_settings.StagingDirectory, "snapshot-*").Order(StringComparer.Ordinal).SkipLast(SnapshotsKept))
            TryDelete(old);
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
                Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover staging copy is harmless; the next apply uses a new name.
        }
    }

    private string Stamp() => _time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss.fffffff", System.Globalization.CultureInfo.InvariantCulture) + "-" + Environment.ProcessId;
}
