using System.Text.Json;
using MailControlPlane.Hosting;
using MailControlPlane.Registry;
using MailControlPlane.Routing;
using MailControlPlane.Tests.Integration.EndToEnd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MailControlPlane.Tests.Integration.StatusPage;

/// <summary>
/// /api/status over real HTTP from the control plane in process: each provider says whether the routing table has its row
/// (active, inactive, missing, or unknown when the table cannot be read), which <c>mailagent doctor</c>'s Platform items read.
/// </summary>
[Trait("Category", "Integration")]
public sealed class StatusApiTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cp-status-api-" + Guid.NewGuid().ToString("N")[..8]);
    private WebApplication? _app;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        await AgentDaemon.PkiInitAsync(Path.Combine(_dir, "pki"));
    }

    public async Task DisposeAsync()
    {
        if (_app != null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private string Pki(string file) => Path.Combine(_dir, "pki", file);

    private async Task<JsonElement> StatusAsync(string sqlitePath)
    {
        string[] args =
        [
            // Agents that are never reachable: only their providers matter here.
            "Agents:0:Name=a", "Agents:0:Address=https://localhost:1", "Agents:0:ProviderName=postfix-a",
            "Agents:1:Name=c", "Agents:1:Address=https://localhost:2", "Agents:1:ProviderName=postfix-c",
            $"Tls:CaFile={Pki("ca.crt")}", $"Tls:CertificateFile={Pki("client.crt")}", $"Tls:KeyFile={Pki("client.key")}",
            "Http:Urls=http://127.0.0.1:0", "Grpc:Listen=", $"Routing:SqlitePath={sqlitePath}", "Routing:SeedStandalone=false", "Log:FilePath=",
        ];
        var config = ControlPlaneConfiguration.Build(args, out _, out var errors);
        errors.AddRange(ControlPlaneConfiguration.Validate(config, out var settings));
        Assert.Empty(errors);
        _app = ControlPlaneHost.Build(settings, TimeProvider.System, builder => builder.Logging.ClearProviders());
        await ControlPlaneHost.StartAsync(_app, settings);
        string http = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var client = new HttpClient();
        using var json = JsonDocument.Parse(await client.GetStringAsync(http + "/api/status"));
        return json.RootElement.Clone();
    }

    private static Dictionary<string, (string Row, int? Position)> Rows(JsonElement status) =>
        status.GetProperty("providers").EnumerateArray().ToDictionary(
            p => p.GetProperty("name").GetString()!,
            p => (p.GetProperty("row").GetString()!, p.GetProperty("position").ValueKind == JsonValueKind.Number ? p.GetProperty("position").GetInt32() : (int?)null),
            StringComparer.Ordinal);

    [Fact]
    public async Task ApiStatus_Rows_ActiveInactiveMissing()
    {
        string database = Path.Combine(_dir, "routing.db");
        await using (var connection = new SqliteConnection($"Data Source={database};Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = RoutingTableSchema.SqliteTables + """
                INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config, is_active) VALUES
                  ('email', 'postfix-a', '', '', '{"priority": 1, "email_rate_per_1000": 0.00}', 1),
                  ('email', 'postfix-b', '', '', '{"priority": 2}', 0),
                  ('email', 'elastic-email', '', '', '{"priority": 3, "email_rate_per_1000": 0.85}', 1),
                  ('sms', 'postfix-c', '', '', '{}', 1);
                INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config, is_active, deleted_at) VALUES
                  ('email', 'postfix-c', '', '', '{}', 1, '2026-01-01 00:00:00');
                """;
            await command.ExecuteNonQueryAsync();
        }

        var status = await StatusAsync(database);

        Assert.Equal("sqlite", status.GetProperty("routingDatabase").GetString());
        Assert.False(status.TryGetProperty("routingError", out _));
        var rows = Rows(status);
        Assert.Equal(("active", 1), rows["postfix-a"]);
        Assert.Equal(("active", 2), rows["elastic-email"]);
        Assert.Equal(("inactive", null), rows["postfix-b"]);
        // Only an sms row and a deleted email row: no live email row, which the control plane could write. The platform's
        // query (verbatim) does not look at deleted_at, so the deleted row still has a position.
        Assert.Equal(("missing", 3), rows["postfix-c"]);
        Assert.Equal(["a", "c"], status.GetProperty("agents").EnumerateArray().Select(a => a.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task ApiStatus_TableUnreadable_RoutingErrorAndRowsUnknown()
    {
        // A file where the database's directory should be: the table can be neither created nor read.
        string blocker = Path.Combine(_dir, "not-a-directory");
        await File.WriteAllTextAsync(blocker, "");

        var status = await StatusAsync(Path.Combine(blocker, "routing.db"));

        Assert.False(string.IsNullOrEmpty(status.GetProperty("routingError").GetString()));
        var rows = Rows(status);
        Assert.Equal(("unknown", null), rows["postfix-a"]);
        Assert.Equal(("unknown", null), rows["postfix-c"]);
    }
}
