using MailAgent.Tests.Integration;
using Npgsql;

namespace MailControlPlane.Tests.Integration.Postgres;

[Trait("Category", "Integration")]
public sealed class PrivatePostgresTests
{
    [ServerFact("postgres")]
    public async Task StartStopStartAgain_SameDataDirectory_KeepsRowsAndLeavesNoProcess()
    {
        var server = await PrivatePostgres.StartNewAsync();
        int? pid;
        string root = server.Root;
        await using (server)
        {
            await RoutingTableDatabase.ApplySchemaAsync(server.ConnectionString);
            await RoutingTableDatabase.SeedStandardRowsAsync(server.ConnectionString);
            Assert.Equal(["postfix-oregon", "postfix-virginia", "elastic-email"], await RoutingTableDatabase.RoutingOrderAsync(server.ConnectionString));

            await server.StopAsync();
            Assert.Null(server.ServerProcessId());
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => server.OpenAsync());

            await server.StartAgainAsync();
            Assert.Equal(["postfix-oregon", "postfix-virginia", "elastic-email"], await RoutingTableDatabase.RoutingOrderAsync(server.ConnectionString));
            pid = server.ServerProcessId();
            Assert.NotNull(pid);
        }

        Assert.False(Directory.Exists("/proc/" + pid), $"postgres {pid} still runs after DisposeAsync");
        Assert.False(Directory.Exists(root), $"{root} still exists after DisposeAsync");
    }

    [ServerFact("postgres")]
    public void PlatformQuery_FromRoutingTableSql_IsTheSelectBlock()
    {
        var query = RoutingTableDatabase.PlatformQuery;

        Assert.StartsWith("SELECT id, provider_name, config", query, StringComparison.Ordinal);
        Assert.Contains("COALESCE((config->>'priority')::integer, 999) ASC;", query, StringComparison.Ordinal);
        Assert.DoesNotContain("--", query, StringComparison.Ordinal);
    }
}
