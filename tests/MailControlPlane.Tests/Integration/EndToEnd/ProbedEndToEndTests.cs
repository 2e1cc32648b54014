using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MailControlPlane.Hosting;
using MailControlPlane.Registry;
using MailControlPlane.Scoring;
using MailControlPlane.Tests.Integration.Postgres;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit.Abstractions;

namespace MailControlPlane.Tests.Integration.EndToEnd;

/// <summary>
/// The control plane's own SMTP probe in the whole system on loopback: a private PostgreSQL with the platform's tables,
/// a real agent process (postfix-virginia) following a log this test writes, a private Postfix serving STARTTLS as the
/// probe target, and the control plane in process. Checks the order of events, never how long they took.
/// </summary>
public sealed class ProbedEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Virginia = "postfix-virginia";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cp-probe-e2e-" + Guid.NewGuid().ToString("N")[..8]);
    private PrivatePostgres? _postgres;
    private PrivatePostfix? _postfix;
    private AgentDaemon? _agent;
    private LogFeeder? _log;
    private WebApplication? _app;

    private sealed record Row(bool IsActive, int? Score);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _postgres = await PrivatePostgres.StartNewAsync();
        await RoutingTableDatabase.ApplySchemaAsync(_postgres.ConnectionString);
        await RoutingTableDatabase.SeedStandardRowsAsync(_postgres.ConnectionString);
        await AgentDaemon.PkiInitAsync(Path.Combine(_dir, "pki"));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=mail.probe.test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("mail.probe.test");
        request.CertificateExtensions.Add(names.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        string chain = Path.Combine(_dir, "chain.pem");
        await File.WriteAllTextAsync(chain, key.ExportPkcs8PrivateKeyPem() + "\n" + cert.ExportCertificatePem() + "\n");
        _postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { TlsChainFile = chain, Diagnostics = output.WriteLine });
    }

    private string Pki(string file) => Path.Combine(_dir, "pki", file);

    private async Task StartAsync()
    {
        string state = Path.Combine(_dir, Virginia, "state");
        Directory.CreateDirectory(state);
        int port = AgentDaemon.FreePort();
        _log = new LogFeeder(Path.Combine(_dir, Virginia, "mail.log"), "mail-virginia");
        _agent = await AgentDaemon.StartAsync(
            $"LogTailing:Path={_log.Path}", $"LogTailing:StateDirectory={state}", "LogTailing:StartAt=Beginning",
            $"Grpc:Listen=127.0.0.1:{port}", $"Grpc:CaFile={Pki("ca.crt")}", $"Grpc:CertificateFile={Pki("agent.crt")}", $"Grpc:KeyFile={Pki("agent.key")}",
            "Grpc:ReadClients=control-plane", "Grpc:WriteClients=control-plane", "Health:Checks=log", "Queue:Enabled=false");

        string[] args =
        [
            $"Agents:0:Name={Virginia}", $"Agents:0:Address=https://localhost:{port}", "Agents:0:Region=us-east-1", $"Agents:0:ProviderName={Virginia}",
            "Agents:0:ProbeHost=127.0.0.1", $"Agents:0:ProbePort={_postfix!.SmtpPort}",
            "Probing:Enabled=true", "Probing:Interval=00:00:01", "Probing:CertificateName=mail.probe.test", "Probing:Timeout=00:00:10",
            $"Tls:CaFile={Pki("ca.crt")}", $"Tls:CertificateFile={Pki("client.crt")}", $"Tls:KeyFile={Pki("client.key")}",
            "Connections:StatusInterval=00:00:00.5", "Connections:HeartbeatTimeout=00:00:30", "Connections:BackoffMin=00:00:00.1",
            "Connections:BackoffMax=00:00:01", "Connections:CallTimeout=00:00:10",
            "Http:Urls=http://127.0.0.1:0", "Grpc:Listen=127.0.0.1:0", $"Grpc:CertificateFile={Pki("agent.crt")}", $"Grpc:KeyFile={Pki("agent.key")}", "Grpc:ReadClients=control-plane",
            // Heartbeat limits far above the test's deadlines: only the probe may move a gone agent's score.
            "Scoring:EvaluationInterval=00:00:00.5", "Scoring:DeactivateAfterFailedEvaluations=4",
            "Scoring:HeartbeatFreezeAfter=00:00:03", "Scoring:HeartbeatZeroAfter=01:00:00",
            $"Routing:ConnectionString={_postgres!.ConnectionString}", "Routing:WriteInterval=00:00:00.2", "Routing:HealthLogInterval=01:00:00",
            "Log:FilePath=",
        ];
        var config = ControlPlaneConfiguration.Build(args, out _, out var errors);
        errors.AddRange(ControlPlaneConfiguration.Validate(config, out var settings));
        Assert.Empty(errors);
        _app = ControlPlaneHost.Build(settings, TimeProvider.System, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new XunitLoggerProvider(output));
        });
        await ControlPlaneHost.StartAsync(_app, settings);
    }

    private async Task<Row> RowAsync()
    {
        await using var connection = new NpgsqlConnection(_postgres!.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT is_active, (config->>'health_score')::integer FROM messaging_providers WHERE provider_type = 'email' AND provider_name = @n AND deleted_at IS NULL", connection);
        command.Parameters.AddWithValue("n", Virginia);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return new Row(reader.GetBoolean(0), reader.IsDBNull(1) ? null : reader.GetInt32(1));
    }

    /// <summary>Virginia's health-log rows in order: the scorer's state and the reason.</summary>
    private async Task<List<(string State, string Reason, int? ResponseTimeMs)>> HealthLogAsync()
    {
        await using var connection = new NpgsqlConnection(_postgres!.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT l.metadata->>'state', COALESCE(l.error_message, ''), l.response_time_ms
              FROM messaging_provider_health_logs l JOIN messaging_providers p ON p.id = l.provider_id
             WHERE l.check_type = 'agent_health' AND p.provider_name = @n ORDER BY l.id
            """, connection);
        command.Parameters.AddWithValue("n", Virginia);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, string, int?)>();
        while (await reader.ReadAsync())
            rows.Add((reader.IsDBNull(0) ? "" : reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt32(2)));
        return rows;
    }

    private ProviderAssessment? Latest() =>
        _app!.Services.GetRequiredService<ProviderBoard>().Latest().FirstOrDefault(a => a.ProviderName == Virginia);

    private string Board() => Latest() is { } a ? $"{a.State} {a.Score} active={a.IsActive} ({a.Reason})" : "no verdict";

    private async Task UntilHealthyWithProbeAsync()
    {
        await Eventually.UntilAsync(() => Latest(), a => a is { State: ProviderState.Healthy, Score: 100, IsActive: true, ResponseTimeMs: not null },
            Deadline, _ => $"virginia not healthy with a probe time: {Board()}");
        await Eventually.UntilAsync(_ => RowAsync(), r => r == new Row(true, 100), Deadline, r => $"virginia row {r}; {Board()}");
    }

    [Fact]
    public async Task AgentKilledAndPostfixStopped_ScoreZeroThenInactive()
    {
        await StartAsync();
        await UntilHealthyWithProbeAsync();

        await _agent!.KillAsync();
        await _postfix!.DisposeAsync();
        _postfix = null;

        var a = await Eventually.UntilAsync(() => Latest(), x => x is { Score: 0 }, Deadline, _ => $"virginia score not 0: {Board()}");
        Assert.Contains("the SMTP probe fails", a!.Reason, StringComparison.Ordinal);
        await Eventually.UntilAsync(_ => RowAsync(), r => r == new Row(false, 0), Deadline, r => $"virginia row {r}; {Board()}");

        // In order: healthy, then failed because the agent is unreachable and the probe fails, then (the same or a later row) inactive.
        var log = await HealthLogAsync();
        output.WriteLine(string.Join("\n", log));
        int healthy = log.FindIndex(r => r.State == "healthy");
        int failed = log.FindIndex(r => r.State == "failed" && r.Reason.Contains("the SMTP probe fails", StringComparison.Ordinal));
        Assert.True(healthy >= 0 && failed > healthy, $"healthy at {healthy}, failed by the probe at {failed}");
    }

    [Fact]
    public async Task AgentKilledPostfixHealthy_ScoreFrozenStateUnknown()
    {
        await StartAsync();
        await UntilHealthyWithProbeAsync();

        await _agent!.KillAsync();

        var a = await Eventually.UntilAsync(() => Latest(), x => x is { State: ProviderState.Unknown }, Deadline, _ => $"virginia not unknown: {Board()}");
        Assert.Contains("the SMTP probe passes", a!.Reason, StringComparison.Ordinal);
        Assert.Equal(100, a.Score);
        Assert.True(a.IsActive);

        // Many later evaluations (each one probes again): nothing moves.
        var seen = new HashSet<ProviderAssessment>(ReferenceEqualityComparer.Instance);
        await Eventually.UntilAsync(() =>
        {
            var now = Latest()!;
            Assert.Equal(ProviderState.Unknown, now.State);
            Assert.Equal(100, now.Score);
            Assert.True(now.IsActive);
            seen.Add(now);
            return seen.Count;
        }, n => n >= 10, Deadline, n => $"only {n} evaluations seen: {Board()}");
        Assert.Equal(new Row(true, 100), await RowAsync());
    }

    public async Task DisposeAsync()
    {
        if (_app != null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (_log != null)
            await _log.DisposeAsync();
        if (_agent != null)
            await _agent.DisposeAsync();
        if (_postfix != null)
            await _postfix.DisposeAsync();
        if (_postgres != null)
            await _postgres.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
