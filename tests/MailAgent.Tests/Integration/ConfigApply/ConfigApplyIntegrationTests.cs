using System.Text.Json;
using MailAgent.ConfigApply;
using MailAgent.Health.Checks;
using MailAgent.Postfix;
using MailAgent.Tests.Integration.Postfix;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;
using static MailAgent.Tests.Integration.Postfix.PrivatePostfix;

namespace MailAgent.Tests.Integration.ConfigApply;

/// <summary>One private Postfix for the class's tests; each test reads the current state instead of assuming one.</summary>
public sealed class PrivatePostfixFixture : IAsyncLifetime
{
    internal PrivatePostfix Postfix { get; private set; } = null!;

    public string WorkDirectory { get; } = Path.Combine(Path.GetTempPath(), "mailagent-apply-it-" + Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(WorkDirectory);
        Postfix = await StartAsync(new PrivatePostfixOptions());
    }

    public async Task DisposeAsync()
    {
        await Postfix.DisposeAsync();
        Directory.Delete(WorkDirectory, recursive: true);
    }
}

/// <summary>The config applier as the daemon builds it, against a real private Postfix: apply, reject, roll back, serialize.</summary>
[Trait("Category", "Integration")]
public sealed class ConfigApplyIntegrationTests(PrivatePostfixFixture fixture, ITestOutputHelper output) : IClassFixture<PrivatePostfixFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private PrivatePostfix Postfix => fixture.Postfix;

    private string MainCf => Path.Combine(Postfix.ConfigDirectory, "main.cf");

    private string AuditLog => Path.Combine(fixture.WorkDirectory, "audit.log");

    [ServerFact("postfix")]
    public async Task Apply_ValidChange_VisibleInPostconfThenUnchanged()
    {
        using var applier = Create();
        // Outside the values the other tests on this shared instance set (1s, 3s, 7s …).
        string value = $"{Random.Shared.Next(100, 1000)}s";

        var reply = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", value)), default);
        output.WriteLine(string.Join("\n", reply.Messages));

        Assert.True(reply.Result == ConfigApplyResult.Applied, reply.Reason);
        Assert.Equal(value, await PostconfAsync("-n", "-h", "smtp_destination_rate_delay"));
        Assert.Equal(ConfigRules.Sha256Hex(File.ReadAllBytes(MainCf)), reply.ConfigHash);

        var again = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", value)), default);

        Assert.Equal(ConfigApplyResult.Unchanged, again.Result);
        Assert.Equal(reply.ConfigHash, again.ConfigHash);
        await AssertDeliversAsync("after apply");
    }

    [ServerTheory("postfix")]
    [InlineData("smtp_destination_rate_delayy", "1s", "unknown Postfix parameter")]
    [InlineData("mynetworks", "0.0.0.0/0", "not on the allow-list")]
    [InlineData("smtp_destination_rate_delay", "1s\nmynetworks = 0.0.0.0/0", "line break")]
    [InlineData("smtpd_milters", "$(touch /tmp/owned)", "'$('")]
    [InlineData("transport_maps", "hash:/nonexistent/transport", "/nonexistent/transport.db, which does not exist")]
    public async Task Apply_BadRequest_RejectedAndMainCfByteIdentical(string name, string value, string reason)
    {
        using var applier = Create("smtp_destination_rate_delay;smtp_destination_rate_delayy;smtpd_milters;transport_maps", dangerous: "transport_maps");
        byte[] before = File.ReadAllBytes(MainCf);

        var reply = await applier.ApplyAsync(Request((name, value)), default);

        Assert.Equal(ConfigApplyResult.Rejected, reply.Result);
        Assert.Contains(reason, reply.Reason, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(MainCf));
    }

    /// <summary>What a stolen write certificate tried: each is on the default allow-list, and each is refused by the default dangerous-change gate.</summary>
    [ServerTheory("postfix")]
    [InlineData("relayhost", "[evil.example]:25")]
    [InlineData("transport_maps", "inline:{*=smtp:[evil.example]:25}")]
    [InlineData("smtpd_milters", "inet:127.0.0.1:19199")]
    [InlineData("header_checks", "regexp:/etc/shadow")]
    [InlineData("smtpd_recipient_restrictions", "check_client_access regexp:/etc/shadow, permit_mynetworks, reject_unauth_destination")]
    [InlineData("smtp_tls_mandatory_protocols", ">=SSLv3")]
    public async Task Apply_DangerousChangeWithDefaultOptions_RejectedAndMainCfByteIdentical(string name, string value)
    {
        using var applier = Create();
        byte[] before = File.ReadAllBytes(MainCf);

        var reply = await applier.ApplyAsync(Request((name, value)), default);
        var dryRun = await applier.ApplyAsync(Request((name, value)) with { DryRun = true }, default);

        Assert.Equal(ConfigApplyResult.Rejected, reply.Result);
        Assert.StartsWith(name + ": ", reply.Reason, StringComparison.Ordinal);
        Assert.Contains("ConfigApply:AllowDangerous", reply.Reason, StringComparison.Ordinal);
        Assert.Equal(ConfigApplyResult.Rejected, dryRun.Result);
        Assert.Equal(before, File.ReadAllBytes(MainCf));
        await AssertDeliversAsync("after the refused " + name);
    }

    [ServerFact("postfix")]
    public async Task Apply_StaleExpectedHash_Rejected()
    {
        using var applier = Create();
        byte[] before = File.ReadAllBytes(MainCf);

        var reply = await applier.ApplyAsync(Request(("smtp_destination_rate_delay", "7s")) with { ExpectedHash = ConfigRules.Sha256Hex("old main.cf"u8.ToArray()) }, default);

        Assert.Equal(ConfigApplyResult.Rejected, reply.Result);
        Assert.Contains("changed since the caller read it", reply.Reason, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(MainCf));
    }

    /// <summary>
    /// <c>smtpd_client_connection_count_limit = many</c> passes every static check (postconf -n prints no
    /// warning, <c>postfix check</c> does not read smtpd's parameters, the reload succeeds: master never
    /// parses it), but every smtpd started afterwards dies with "fatal: bad numerical configuration", so
    /// the SMTP ports stop answering 220. Only the verification after the reload can see it.
    /// </summary>
    [ServerFact("postfix")]
    public async Task Apply_SmtpdFatalAfterReload_RolledBackByteIdenticalAndStillDelivers()
    {
        using var applier = Create();
        byte[] before = File.ReadAllBytes(MainCf);

        var reply = await applier.ApplyAsync(Request(("smtpd_client_connection_count_limit", "many")), default);
        output.WriteLine(reply.Reason);
        output.WriteLine(string.Join("\n", reply.Messages));

        Assert.Equal(ConfigApplyResult.RolledBack, reply.Result);
        Assert.Contains("bad numerical configuration", reply.Reason, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(MainCf));
        Assert.Equal(ConfigRules.Sha256Hex(before), reply.ConfigHash);
        await AssertDeliversAsync("after rollback");
    }

    [ServerFact("postfix")]
    public async Task Apply_DryRun_ChecksWithoutChanging()
    {
        using var applier = Create();
        byte[] before = File.ReadAllBytes(MainCf);

        var reply = await applier.ApplyAsync(Request(("message_size_limit", "20480000")) with { DryRun = true }, default);

        Assert.True(reply.Result == ConfigApplyResult.DryRun, reply.Reason);
        Assert.Contains(reply.Messages, m => m.Contains("postfix check passed", StringComparison.Ordinal));
        Assert.Equal(before, File.ReadAllBytes(MainCf));
    }

    [ServerFact("postfix")]
    public async Task Apply_TwoConcurrent_DoNotInterleave()
    {
        using var applier = Create();
        long auditStart = File.Exists(AuditLog) ? new FileInfo(AuditLog).Length : 0;

        var replies = await Task.WhenAll(
            applier.ApplyAsync(Request(("default_destination_concurrency_limit", "11")) with { Caller = "first" }, default),
            applier.ApplyAsync(Request(("default_destination_concurrency_limit", "12"), ("smtp_destination_rate_delay", "3s")) with { Caller = "second" }, default));

        Assert.All(replies, r => Assert.True(r.Result == ConfigApplyResult.Applied, r.Reason));
        // Each saw the other's result or none of it: the second's old value is the first's new one.
        Assert.Equal("11", replies[1].Diff.Single(c => c.Name == "default_destination_concurrency_limit").OldValue);
        Assert.Equal("12", await PostconfAsync("-n", "-h", "default_destination_concurrency_limit"));
        Assert.Equal("3s", await PostconfAsync("-n", "-h", "smtp_destination_rate_delay"));
        var audit = ReadAudit(auditStart);
        Assert.Equal(["first", "second"], audit.Select(a => a.GetProperty("who").GetString()));
        Assert.Equal(audit[0].GetProperty("new_hash").GetString(), audit[1].GetProperty("old_hash").GetString());
    }

    private ConfigApplier Create(string? allowed = null, string dangerous = "")
    {
        var options = new ConfigApplyOptions
        {
            AuditLogPath = AuditLog,
            StagingDirectory = Path.Combine(fixture.WorkDirectory, "staging"),
            VerifyTimeout = TimeSpan.FromSeconds(20),
        };
        if (allowed != null)
            options.AllowedParameters = allowed;
        options.AllowDangerous = dangerous;
        var settings = new ConfigApplierSettings(options, Postfix.ConfigDirectory, options.StagingDirectory, Postfix.LogPath,
            [$"127.0.0.1:{Postfix.SmtpPort}", $"127.0.0.1:{Postfix.SubmissionPort}"]);
        var control = new PostfixCommands(new PostfixOptions { ConfigDirectory = Postfix.ConfigDirectory, PostfixPath = "/usr/sbin/postfix", PostconfPath = "/usr/sbin/postconf" });
        return new ConfigApplier(settings, control, (e, ct) => SmtpBannerCheck.ProbeAsync(e, ct), new ConfigAuditLog(AuditLog, TimeProvider.System, NullLogger.Instance),
            Prometheus.Metrics.NewCustomRegistry(), TimeProvider.System, NullLogger.Instance);
    }

    private static ConfigApplyRequest Request(params (string Name, string Value)[] set) =>
        new(set.ToDictionary(p => p.Name, p => p.Value), [], "", "", false, "CN=integration");

    private async Task<string> PostconfAsync(params string[] arguments)
    {
        var result = await Tool.RunAsync("/usr/sbin/postconf", ["-c", Postfix.ConfigDirectory, .. arguments], CancellationToken.None);
        return result.StandardOutput.Trim();
    }

    private async Task AssertDeliversAsync(string what)
    {
        string subject = $"config-apply {what} {Guid.NewGuid():N}";
        await Postfix.SendWithSmtpSourceAsync(1, AcceptDomain, subject: subject);
        await Eventually.UntilAsync(
            Postfix.ReadAcceptedMessages,
            messages => messages.Any(m => m.Contains(subject, StringComparison.Ordinal)),
            Timeout,
            messages => $"{messages.Count} accepted, none with subject '{subject}'; log tail:\n{string.Join('\n', Postfix.ReadLogLines().TakeLast(20))}");
    }

    private List<JsonElement> ReadAudit(long from)
    {
        using var stream = new FileStream(AuditLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Position = from;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }
}
