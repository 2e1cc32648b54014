using System.ComponentModel;
using CliWrap;
using CliWrap.Buffered;
using MailAgent.Postfix;

namespace MailAgent.Certificates;

/// <summary>
/// Deploys the certificate files on disk, one deployment at a time (in this process by a
/// semaphore, on the host by the store's lock file): validate; invalid → refuse and put the last
/// good files back if the files changed; valid and already served → unchanged; otherwise
/// <c>postfix reload</c> and the other reload commands, then probe every endpoint until it serves
/// the new fingerprint → deployed, or put the last good files back, reload again → rolled back.
/// </summary>
internal sealed class CertificateDeployer(
    CertificateOptions options, CertificateLocator locator, CertificateStore store, IPostfixCommands postfix, ITlsProbe probe,
    IReadOnlyList<TlsEndpoint> endpoints, CertificateMetrics metrics, TimeProvider time, ILogger logger) : IDisposable
{
    private readonly SemaphoreSlim _one = new(1, 1);

    public CertificateStore Store => store;

    public void Dispose() => _one.Dispose();

    public CertificateLocator Locator => locator;

    /// <summary>
    /// Runs one deployment. <paramref name="trigger"/> names who asked (watcher, startup, grpc,
    /// cert-deployed). Returns null only when no certificate is configured at all.
    /// </summary>
    public async Task<CertificateOutcome> DeployAsync(string trigger, CancellationToken cancellationToken)
    {
        await _one.WaitAsync(cancellationToken);
        try
        {
            using var hostLock = await store.LockAsync(time, cancellationToken);
            var outcome = await DeployLockedAsync(cancellationToken);
            if (outcome.ContentHash.Length > 0)
            {
                store.SaveOutcome(outcome);
                metrics.Reload(outcome.Result);
            }

            string result = CertificateMetrics.Label(outcome.Result);
            if (outcome.Result is CertificateReloadResult.Deployed or CertificateReloadResult.Unchanged)
                Log.Outcome(logger, result, trigger, outcome.Reason);
            else
                Log.Failed(logger, result, trigger, outcome.Reason);
            return outcome;
        }
        finally
        {
            _one.Release();
        }
    }

    private async Task<CertificateOutcome> DeployLockedAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var (location, problem) = await locator.LocateAsync(cancellationToken);
        if (location == null)
            return new CertificateOutcome(CertificateReloadResult.Refused, problem!, null, null, now, "");

        var files = location.AllFiles;
        string hash = CertificateStore.ContentHash(files);
        var validation = Validate(location, now);
        var lastGood = store.LastGood();
        string? lastGoodHash = store.LastGoodHash();
        if (!validation.IsValid)
        {
            string reason = $"{Describe(location)}: {validation.Reason}";
            if (lastGood != null && hash != lastGoodHash)
            {
                var restored = CertificateStore.Restore(lastGood);
                var reload = await ReloadAsync(cancellationToken);
                reason += $"; the last good files were put back ({string.Join(", ", restored)}){(reload == null ? " and Postfix reloaded" : $", but {reload}")}";
            }
            else if (lastGood == null)
            {
                reason += "; no last good copy exists yet to put back, Postfix was not reloaded";
            }
            else
            {
                reason += "; these are the last good files (they have become invalid since), Postfix was not reloaded";
            }

            var served = await ProbeAllAsync(cancellationToken);
            return Outcome(CertificateReloadResult.Refused, reason, served, CertificateStore.ContentHash(files));
        }

        var before = await ProbeAllAsync(cancellationToken);
        // A listener that refuses connections before the reload (e.g. no submission service here) is not one to verify.
        var checkable = before.Where(s => s.Ok || !IsConnectFailure(s)).Select(s => s.Endpoint).ToList();
        if (checkable.Count == 0)
            return Outcome(CertificateReloadResult.RolledBack, $"no endpoint to verify: {Summary(before)}; nothing was changed", before, hash);
        if (before.Where(s => checkable.Contains(s.Endpoint)).All(s => s.Fingerprint == validation.Fingerprint))
        {
            if (hash != lastGoodHash)
                store.SaveLastGood(files, hash);
            return Outcome(CertificateReloadResult.Unchanged, $"{Describe(location)} hold the certificate {Short(validation.Fingerprint)} already served on {string.Join(", ", checkable)}", before, hash);
        }

        string? reloadProblem = await ReloadAsync(cancellationToken);
        IReadOnlyList<ServedCertificate> after = before;
        if (reloadProblem == null)
        {
            for (int attempt = 1; attempt <= options.VerifyRetries; attempt++)
            {
                after = await ProbeAllAsync(checkable, cancellationToken);
                if (after.All(s => s.Fingerprint == validation.Fingerprint))
                {
                    store.SaveLastGood(files, hash);
                    return Outcome(CertificateReloadResult.Deployed,
                        $"{Describe(location)}: certificate {Short(validation.Fingerprint)} (valid until {validation.NotAfter:u}) now served on {string.Join(", ", checkable)}", after, hash);
                }

                if (attempt < options.VerifyRetries)
                    await Task.Delay(options.VerifyDelay, time, cancellationToken);
            }
        }

        string why = reloadProblem ?? $"after {options.VerifyRetries} probes the new certificate {Short(validation.Fingerprint)} is not served: {Summary(after)}";
        if (lastGood != null && hash != lastGoodHash)
        {
            var restored = CertificateStore.Restore(lastGood);
            var again = await ReloadAsync(cancellationToken);
            why += $"; the last good files were put back ({string.Join(", ", restored)}){(again == null ? " and Postfix reloaded" : $", but {again}")}";
            var served = await ProbeAllAsync(checkable, cancellationToken);
            return Outcome(CertificateReloadResult.RolledBack, why, served, CertificateStore.ContentHash(files));
        }

        why += lastGood == null ? "; no last good copy exists yet to put back" : "; the files are the last good ones, nothing to put back";
        return Outcome(CertificateReloadResult.RolledBack, why, after, hash);

        CertificateOutcome Outcome(CertificateReloadResult result, string reason, IReadOnlyList<ServedCertificate> served, string contentHash)
        {
            var first = served.FirstOrDefault(s => s.Ok);
            return new CertificateOutcome(result, reason, first?.Fingerprint, first?.NotAfter, time.GetUtcNow(), contentHash);
        }
    }

    /// <summary>Reads and validates the files of <paramref name="location"/>.</summary>
    public static CertificateValidation Validate(CertificateLocation location, DateTimeOffset now)
    {
        string certificates, keys;
        try
        {
            certificates = string.Join('\n', location.CertificateFiles.Select(File.ReadAllText));
            keys = string.Join('\n', location.KeyFiles.Select(File.ReadAllText));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new CertificateValidation(CertificateProblem.Unreadable, [$"cannot read the files ({e.Message})"], null, null, null, [], "");
        }

        return CertificateValidator.Validate(certificates, keys, location.Hostname, now);
    }

    public Task<IReadOnlyList<ServedCertificate>> ProbeAllAsync(CancellationToken cancellationToken) => ProbeAllAsync(endpoints, cancellationToken);

    private async Task<IReadOnlyList<ServedCertificate>> ProbeAllAsync(IReadOnlyList<TlsEndpoint> which, CancellationToken cancellationToken) =>
        await Task.WhenAll(which.Select(e => probe.ProbeAsync(e, cancellationToken)));

    // Null when everything reloaded; otherwise what failed.
    private async Task<string?> ReloadAsync(CancellationToken cancellationToken)
    {
        var run = await postfix.PostfixAsync(["reload"], cancellationToken);
        if (!run.Succeeded)
            return $"postfix reload failed: {run.Output}";
        var failures = new List<string>();
        foreach (var command in options.ReloadCommandLines())
        {
            string line = string.Join(' ', command);
            try
            {
                var result = await CliWrap.Cli.Wrap(command[0]).WithWorkingDirectory("/").WithArguments(command.Skip(1)).WithStandardInputPipe(PipeSource.Null)
                    .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cancellationToken);
                if (result.ExitCode != 0)
                {
                    failures.Add($"'{line}' exited with {result.ExitCode}");
                    Log.ReloadCommandFailed(logger, line, (result.StandardError + result.StandardOutput).Trim());
                }
            }
            catch (Exception e) when (e is Win32Exception or InvalidOperationException)
            {
                failures.Add($"'{line}' could not run");
                Log.ReloadCommandFailed(logger, line, e.Message);
            }
        }

        // Another service failing to reload does not stop Postfix from serving the new certificate: report it, verify Postfix.
        if (failures.Count > 0)
            Log.ReloadCommandFailed(logger, "(summary)", string.Join("; ", failures));
        return null;
    }

    private static bool IsConnectFailure(ServedCertificate served) => served.Problem?.StartsWith("cannot connect", StringComparison.Ordinal) == true;

    private static string Summary(IReadOnlyList<ServedCertificate> served) =>
        string.Join("; ", served.Select(s => s.Ok ? $"{s.Endpoint} serves {Short(s.Fingerprint)}" : $"{s.Endpoint}: {s.Problem}"));

    private static string Describe(CertificateLocation location) => string.Join(", ", location.AllFiles) + $" ({location.Source})";

    /// <summary>The first 16 hex digits of a fingerprint, enough to tell certificates apart in a reason.</summary>
    public static string Short(string? fingerprint) => fingerprint == null ? "(none)" : fingerprint[..Math.Min(16, fingerprint.Length)];
}
