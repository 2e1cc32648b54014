using System.Text.Json;
using MailAgent.ConfigApply;
using MailAgent.Postfix;
using Microsoft.Extensions.Logging.Abstractions;

namespace MailAgent.Tests.ConfigApply;

/// <summary>The applier's decisions over a fake postconf/postfix and real files in a temp directory.</summary>
public sealed class ConfigApplierTests : IDisposable
{
    private const string InitialMainCf = "# test main.cf\nqueue_directory = /var/spool/postfix\nsmtp_destination_rate_delay = 0s\nrelayhost = [relay.example]:587\n";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mailagent-apply-" + Guid.NewGuid().ToString("N"));
    private readonly FilePostfixCommands _postfix;
    private readonly ConfigApplyOptions _options;

    public ConfigApplierTests()
    {
        Directory.CreateDirectory(ConfigDirectory);
        File.WriteAllText(MainCf, InitialMainCf);
        File.WriteAllText(Path.Combine(ConfigDirectory, "master.cf"), "smtp inet n - n - - smtpd\n");
        _postfix = new FilePostfixCommands { ConfigDirectory = ConfigDirectory };
        _options = new ConfigApplyOptions
        {
            AuditLogPath = Path.Combine(_dir, "audit.log"),
            StagingDirectory = Path.Combine(_dir, "staging"),
            VerifyTimeout = TimeSpan.FromSeconds(1),
        };
    }

    private string ConfigDirectory => Path.Combine(_dir, "etc");

    private string MainCf => Path.Combine(ConfigDirectory, "main.cf");

    private string LogPath => Path.Combine(_dir, "mail.log");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Apply_ValidChange_AppliedReloadedAndAudited()
    {
        // This test is about another rule: the dangerous-change gate (DangerousChangesTests) is opened for its parameters.
        _options.AllowDangerous = "relayhost;smtpd_milters;transport_maps";
        using var applier = Create();
        string before = applier.CurrentHash();

        var reply = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "1s"), ("smtpd_milters", "inet:127.0.0.1:8891")), default);

        Assert.Equal(ConfigApplyResult.Applied, reply.Result);
        Assert.Equal(["smtp_destination_rate_delay", "smtpd_milters"], reply.Diff.Select(c => c.Name));
        Assert.Equal(new ConfigChange("smtp_destination_rate_delay", "0s", "1s", false), reply.Diff[0]);
        Assert.Contains("smtp_destination_rate_delay = 1s", File.ReadAllText(MainCf), StringComparison.Ordinal);
        Assert.NotEqual(before, reply.ConfigHash);
        Assert.Equal(applier.CurrentHash(), reply.ConfigHash);
        Assert.Contains("postfix reload", _postfix.Calls);
        var audit = AuditLines();
        Assert.Single(audit);
        Assert.Equal("applied", audit[0].GetProperty("result").GetString());
        Assert.Equal("CN=admin", audit[0].GetProperty("who").GetString());
        Assert.Equal(before, audit[0].GetProperty("old_hash").GetString());
        Assert.Equal(reply.ConfigHash, audit[0].GetProperty("new_hash").GetString());
        // The staging copy is gone; one snapshot is kept.
        Assert.Empty(Directory.GetDirectories(_options.StagingDirectory, "stage-*"));
        Assert.Single(Directory.GetDirectories(_options.StagingDirectory, "snapshot-*"));
    }

    [Fact]
    public async Task Apply_SameChangeAgain_Unchanged()
    {
        using var applier = Create();
        await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "1s")), default);
        byte[] after = File.ReadAllBytes(MainCf);
        int reloads = _postfix.Calls.Count(c => c == "postfix reload");

        var again = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "1s")), default);

        Assert.Equal(ConfigApplyResult.Unchanged, again.Result);
        Assert.Empty(again.Diff);
        Assert.Equal(after, File.ReadAllBytes(MainCf));
        Assert.Equal(reloads, _postfix.Calls.Count(c => c == "postfix reload"));
    }

    [Theory]
    [InlineData("mynetworks", "0.0.0.0/0", "not on the allow-list")]
    [InlineData("smtp_destination_rate_delayy", "1s", "unknown Postfix parameter")]
    [InlineData("smtp_destination_rate_delay", "1s\nrelayhost = evil", "line break")]
    [InlineData("smtp_destination_rate_delay", "$(reboot)", "'$('")]
    [InlineData("smtp_destination_rate_delay", "`reboot`", "backtick")]
    [InlineData("smtp_destination_rate_delay", "1s\u0007", "control character")]
    [InlineData("Relay Host", "x", "not a Postfix parameter name")]
    public async Task Apply_BadNameOrValue_RejectedAndMainCfUntouched(string name, string value, string reason)
    {
        using var applier = Create("smtp_destination_rate_delay;smtp_destination_rate_delayy;relayhost");
        byte[] before = File.ReadAllBytes(MainCf);

        var reply = await applier.ApplyAsync(Request((name, value)), default);

        Assert.Equal(ConfigApplyResult.Rejected, reply.Result);
        Assert.Contains(reason, reply.Reason, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(MainCf));
        Assert.DoesNotContain(_postfix.Calls, c => c.StartsWith("postfix reload", StringComparison.Ordinal) || c.Contains("-e", StringComparison.Ordinal));
        Assert.Equal("rejected", Assert.Single(AuditLines()).GetProperty("result").GetString());
    }

    [Fact]
    public async Task Apply_PostfixDollarExpansion_IsAllowed()
    {
        // This test is about another rule: the dangerous-change gate (DangerousChangesTests) is opened for its parameters.
        _options.AllowDangerous = "relayhost;smtpd_milters;transport_maps";
        using var applier = Create();

        var reply = await applier.ApplyAsync(Request(("smtpd_milters", "${relayhost} $relayhost")), default);

        Assert.Equal(ConfigApplyResult.Applied, reply.Result);
    }

    [Fact]
    public async Task Apply_StaleExpectedHash_Rejected_CurrentHashApplied()
    {
        // This test is about another rule: the dangerous-change gate (DangerousChangesTests) is opened for its parameters.
        _options.AllowDangerous = "relayhost;smtpd_milters;transport_maps";
        using var applier = Create();
        string current = applier.CurrentHash();

        var stale = await applier.ApplyAsync(Request(("relayhost", "")) with { ExpectedHash = new string('0', 64) }, default);
        var fresh = await applier.ApplyAsync(Request(("relayhost", "")) with { ExpectedHash = current }, default);

        Assert.Equal(ConfigApplyResult.Rejected, stale.Result);
        Assert.Contains("changed since the caller read it", stale.Reason, StringComparison.Ordinal);
        Assert.Equal(current, stale.ConfigHash);
        Assert.Equal(ConfigApplyResult.Applied, fresh.Result);
    }

    [Fact]
    public async Task Apply_SameIdempotencyKey_FirstReplyAgainWithoutApplying()
    {
        using var applier = Create();
        var first = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "2s")) with { IdempotencyKey = "k1" }, default);
        File.WriteAllText(MainCf, InitialMainCf);
        int calls = _postfix.Calls.Count;

        var second = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "2s")) with { IdempotencyKey = "k1" }, default);

        Assert.Equal(ConfigApplyResult.Applied, second.Result);
        Assert.Equal(first.Diff, second.Diff);
        Assert.Equal(calls, _postfix.Calls.Count);
        Assert.Equal(InitialMainCf, File.ReadAllText(MainCf));
    }

    [Fact]
    public async Task Apply_RemoveParameter_RemovedWithOldValueInDiff()
    {
        // This test is about another rule: the dangerous-change gate (DangerousChangesTests) is opened for its parameters.
        _options.AllowDangerous = "relayhost;smtpd_milters;transport_maps";
        using var applier = Create();

        var reply = await applier.ApplyAsync(new ConfigApplyRequest(new Dictionary<string, string>(), ["relayhost"], "", "", false, "CN=admin"), default);

        Assert.Equal(ConfigApplyResult.Applied, reply.Result);
        Assert.Equal(new ConfigChange("relayhost", "[relay.example]:587", "", true), Assert.Single(reply.Diff));
        Assert.DoesNotContain("relayhost", File.ReadAllText(MainCf), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_ReloadFails_RolledBackByteIdentical()
    {
        using var applier = Create();
        byte[] before = File.ReadAllBytes(MainCf);
        _postfix.ReloadResult = new PostfixResult(true, 1, "", "postfix/postfix-script: fatal: the Postfix mail system is not running");

        var reply = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "5s")), default);

        Assert.Equal(ConfigApplyResult.RolledBack, reply.Result);
        Assert.Contains("postfix reload failed", reply.Reason, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(MainCf));
        Assert.Equal(ConfigRules.Sha256Hex(before), reply.ConfigHash);
        Assert.Equal("rolled_back", Assert.Single(AuditLines()).GetProperty("result").GetString());
    }

    [Fact]
    public async Task Apply_FatalLoggedAfterReload_RolledBackAndHealthDegraded()
    {
        using var applier = Create();
        byte[] before = File.ReadAllBytes(MainCf);
        File.WriteAllText(LogPath, "Nov 28 04:00:00 mail postfix/smtpd[1]: fatal: an old problem, before the apply\n");
        _postfix.OnReload = () =>
        {
            _postfix.OnReload = () => Task.CompletedTask;
            File.AppendAllText(LogPath, "Nov 28 04:00:01 mail postfix/smtpd[2]: fatal: bad numerical configuration: message_size_limit = x\n");
            return Task.CompletedTask;
        };
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var health = new ConfigApplyHealthCheck(applier, _options, time);
        Assert.Equal(MailAgent.Health.HealthStatus.Healthy, (await health.RunAsync(default)).Status);

        var reply = await applier.ApplyAsync(Request(("message_size_limit", "x")), default);

        Assert.Equal(ConfigApplyResult.RolledBack, reply.Result);
        Assert.Contains("bad numerical configuration", reply.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("an old problem", reply.Reason, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(MainCf));
        Assert.Equal(2, _postfix.Calls.Count(c => c == "postfix reload"));
        var check = await health.RunAsync(default);
        Assert.Equal(MailAgent.Health.HealthStatus.Degraded, check.Status);
        Assert.Contains("bad numerical configuration", check.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_NotVerifiedInTime_RolledBack()
    {
        using var applier = Create();
        byte[] before = File.ReadAllBytes(MainCf);
        _postfix.StatusResult = new PostfixResult(true, 1, "", "postfix/postfix-script: the Postfix mail system is not running");

        var reply = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "5s")), default);

        Assert.Equal(ConfigApplyResult.RolledBack, reply.Result);
        Assert.Contains("not verified within", reply.Reason, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(MainCf));
    }

    [Fact]
    public async Task Apply_StagedCheckFails_RejectedAndNothingReloaded()
    {
        using var applier = Create();
        byte[] before = File.ReadAllBytes(MainCf);
        _postfix.CheckResult = new PostfixResult(true, 1, "", "postfix/postfix-script: fatal: something is wrong");

        var reply = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "5s")), default);

        Assert.Equal(ConfigApplyResult.Rejected, reply.Result);
        Assert.Contains("postfix check", reply.Reason, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(MainCf));
        Assert.DoesNotContain("postfix reload", _postfix.Calls);
        Assert.Contains("postfix -c STAGE check", _postfix.Calls);
    }

    [Fact]
    public async Task Apply_ReferencedMapMissing_Rejected()
    {
        // This test is about another rule: the dangerous-change gate (DangerousChangesTests) is opened for its parameters.
        _options.AllowDangerous = "relayhost;smtpd_milters;transport_maps";
        using var applier = Create();
        string map = Path.Combine(_dir, "transport");
        File.WriteAllText(map, "example.com smtp:[127.0.0.1]\n");

        var missingDb = await applier.ApplyAsync(Request(("transport_maps", "hash:" + map)), default);
        var present = await applier.ApplyAsync(Request(("transport_maps", "texthash:" + map)) with { DryRun = true }, default);

        Assert.Equal(ConfigApplyResult.Rejected, missingDb.Result);
        Assert.Contains(map + ".db, which does not exist", missingDb.Reason, StringComparison.Ordinal);
        Assert.Equal(ConfigApplyResult.DryRun, present.Result);
    }

    [Fact]
    public async Task Apply_DryRun_DiffAndChecksWithoutChange()
    {
        using var applier = Create();
        byte[] before = File.ReadAllBytes(MainCf);

        var reply = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "3s")) with { DryRun = true }, default);

        Assert.Equal(ConfigApplyResult.DryRun, reply.Result);
        Assert.Equal(new ConfigChange("smtp_destination_rate_delay", "0s", "3s", false), Assert.Single(reply.Diff));
        Assert.Contains(reply.Messages, m => m.Contains("postfix check passed", StringComparison.Ordinal));
        Assert.Equal(before, File.ReadAllBytes(MainCf));
        Assert.DoesNotContain("postfix reload", _postfix.Calls);
    }

    [Fact]
    public async Task Apply_TwoAtOnce_SecondWaitsForTheFirst()
    {
        using var applier = Create();
        var inReload = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _postfix.OnReload = async () =>
        {
            _postfix.OnReload = () => Task.CompletedTask;
            inReload.SetResult();
            await release.Task;
        };

        var first = applier.ApplyAsync(Request(("smtp_destination_rate_delay", "1s")) with { Caller = "first" }, default);
        await inReload.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var second = applier.ApplyAsync(Request(("smtp_destination_rate_delay", "2s")) with { Caller = "second" }, default);
        int callsWhileBlocked = _postfix.Calls.Count;
        Assert.NotNull(applier.InProgressSince);
        release.SetResult();
        var replies = await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.All(replies, r => Assert.Equal(ConfigApplyResult.Applied, r.Result));
        Assert.Equal("0s", replies[0].Diff[0].OldValue);
        Assert.Equal("1s", replies[1].Diff[0].OldValue);
        // The second request's first postconf call comes after the first request's reload and verification.
        int secondStart = _postfix.Calls.FindLastIndex(c => c == "postconf -d");
        Assert.True(secondStart >= callsWhileBlocked, string.Join(" | ", _postfix.Calls));
        Assert.True(secondStart > _postfix.Calls.IndexOf("postfix status"), string.Join(" | ", _postfix.Calls));
        Assert.Equal(1, _postfix.MaxConcurrent);
        Assert.Equal(["first", "second"], AuditLines().Select(a => a.GetProperty("who").GetString()));
        Assert.Contains("smtp_destination_rate_delay = 2s", File.ReadAllText(MainCf), StringComparison.Ordinal);
        Assert.Null(applier.InProgressSince);
    }

    [Fact]
    public async Task Apply_PostfixCheckFailsSilently_ReasonQuotedFromTheLog()
    {
        using var applier = Create();
        File.WriteAllText(LogPath, "Nov 28 04:00:00 mail postfix/postfix-script[1]: warning: an old line, before the check\n");
        _postfix.CheckResult = new PostfixResult(false, 1, "", "");
        _postfix.OnCheck = () =>
        {
            File.AppendAllText(LogPath, "Nov 28 04:00:01 mail postfix/postfix-script[2]: fatal: bad string length 0 < 1: mydomain = \n");
            return Task.CompletedTask;
        };
        byte[] before = File.ReadAllBytes(MainCf);

        var reply = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "2s")), default);

        Assert.Equal(ConfigApplyResult.Rejected, reply.Result);
        Assert.Equal("'postfix check' on the staged copy failed: Nov 28 04:00:01 mail postfix/postfix-script[2]: fatal: bad string length 0 < 1: mydomain =", reply.Reason);
        Assert.Equal(before, File.ReadAllBytes(MainCf));
    }

    [Fact]
    public async Task Apply_PostfixCheckFailsOnStderr_ReasonQuoted()
    {
        using var applier = Create();
        _postfix.CheckResult = new PostfixResult(false, 1, "", "postfix/postfix-script: fatal: unknown parameter");

        var reply = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "2s")), default);

        Assert.Equal(ConfigApplyResult.Rejected, reply.Result);
        Assert.EndsWith("failed: postfix/postfix-script: fatal: unknown parameter", reply.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_SetAndRemoveSameName_Rejected()
    {
        using var applier = Create();

        var reply = await applier.ApplyAsync(new ConfigApplyRequest(new Dictionary<string, string> { ["relayhost"] = "" }, ["relayhost"], "", "", false, "CN=admin"), default);

        Assert.Equal(ConfigApplyResult.Rejected, reply.Result);
        Assert.Contains("both set and removed", reply.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_RollbackLeavesAThrottlingMaster_StoppedAndStartedVerifiedAndNextApplyApplies()
    {
        // Like smtpd_client_connection_count_limit = many: smtpd dies at once, the master throttles it,
        // and a reload with the old main.cf does not clear the throttle; only stop and start do.
        bool throttled = false;
        _postfix.OnReload = () =>
        {
            if (File.ReadAllText(MainCf).Contains("message_size_limit = many", StringComparison.Ordinal))
            {
                File.AppendAllText(LogPath, "Dec  6 03:00:00 mail postfix/smtpd[9]: fatal: bad numerical configuration: message_size_limit = many\n"
                    + "Dec  6 03:00:00 mail postfix/master[1]: warning: /usr/lib/postfix/sbin/smtpd: bad command startup -- throttling\n");
                throttled = true;
            }

            return Task.CompletedTask;
        };
        _postfix.OnStart = () => throttled = false;
        using var applier = Create(probe: () => throttled ? "no SMTP reply" : null);

        var rollback = await applier.ApplyAsync(Request(("message_size_limit", "many")), default);
        var next = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "5s")), default);

        Assert.Equal(ConfigApplyResult.RolledBack, rollback.Result);
        Assert.Contains(rollback.Messages, m => m.Contains("throttling", StringComparison.Ordinal) && m.Contains("stopping and starting", StringComparison.Ordinal));
        Assert.Contains(rollback.Messages, m => m.StartsWith("verified after the rollback:", StringComparison.Ordinal));
        Assert.Contains("postfix stop", _postfix.Calls);
        Assert.Equal(ConfigApplyResult.Applied, next.Result);
    }

    [Fact]
    public async Task Apply_AfterARollbackPostfixStillDown_NextApplyRefusedAsRecoveringNotRolledBack()
    {
        bool serving = true;
        _postfix.OnReload = () =>
        {
            serving = false; // whatever the config, Postfix does not answer for now
            return Task.CompletedTask;
        };
        using var applier = Create(probe: () => serving ? null : "no SMTP reply");
        var rollback = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "5s")), default);
        byte[] before = File.ReadAllBytes(MainCf);
        int reloads = _postfix.Calls.Count(c => c == "postfix reload");

        var refused = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "10s")), default);
        byte[] afterRefused = File.ReadAllBytes(MainCf);
        serving = true;
        _postfix.OnReload = () => Task.CompletedTask;
        var later = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "10s")), default);

        Assert.Equal(ConfigApplyResult.RolledBack, rollback.Result);
        Assert.Contains("does not serve yet", rollback.Reason, StringComparison.Ordinal);
        Assert.Equal(ConfigApplyResult.Rejected, refused.Result);
        Assert.Contains("Postfix is still recovering from the previous rollback", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(reloads, _postfix.Calls.Count(c => c == "postfix reload") - 1); // only the later apply reloaded
        Assert.Equal(before, afterRefused);
        Assert.Equal(ConfigApplyResult.Applied, later.Result);
    }

    [Fact]
    public async Task Apply_SameIdempotencyKeyAfterRestart_FirstReplyAgain()
    {
        var request = Request(("smtp_destination_rate_delay", "5s")) with { IdempotencyKey = "change-42" };
        ConfigApplyReply first;
        using (var applier = Create())
            first = await applier.ApplyAsync(request, default);
        File.WriteAllText(MainCf, InitialMainCf); // someone reverted it by hand

        using var restarted = Create();
        var again = await restarted.ApplyAsync(request, default);

        Assert.Equal(ConfigApplyResult.Applied, first.Result);
        Assert.Equal(ConfigApplyResult.Applied, again.Result);
        Assert.Contains(again.Messages, m => m.Contains("seen before", StringComparison.Ordinal));
        Assert.Equal(InitialMainCf, File.ReadAllText(MainCf));
        Assert.True(File.Exists(Path.Combine(_options.StagingDirectory, "idempotency.json")));
    }

    [Fact]
    public async Task Apply_MainCfOwnedByAnotherUser_KeepsOwnerAndMode()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            return; // giving main.cf another owner needs root (the suite runs as root, see README)
        File.SetUnixFileMode(MainCf, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        Assert.True(FileOwner.Set(MainCf, (65534, 65534)));
        using var applier = Create();

        var reply = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "5s")), default);

        Assert.Equal(ConfigApplyResult.Applied, reply.Result);
        Assert.Equal((65534u, 65534u), FileOwner.Of(MainCf));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(MainCf));
    }

    private ConfigApplier Create(string? allowed = null, Func<string?>? probe = null)
    {
        if (allowed != null)
            _options.AllowedParameters = allowed;
        var settings = new ConfigApplierSettings(_options, ConfigDirectory, _options.StagingDirectory, LogPath, probe == null ? [] : ["127.0.0.1:25"]);
        return new ConfigApplier(settings, _postfix, (_, _) => Task.FromResult(probe?.Invoke()), new ConfigAuditLog(_options.AuditLogPath, TimeProvider.System, NullLogger.Instance),
            Prometheus.Metrics.NewCustomRegistry(), TimeProvider.System, NullLogger.Instance);
    }

    private static ConfigApplyRequest Request(params (string Name, string Value)[] set) =>
        new(set.ToDictionary(p => p.Name, p => p.Value), [], "", "", false, "CN=admin");

    private List<JsonElement> AuditLines() =>
        File.Exists(_options.AuditLogPath)
            ? File.ReadAllLines(_options.AuditLogPath).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList()
            : [];
}
