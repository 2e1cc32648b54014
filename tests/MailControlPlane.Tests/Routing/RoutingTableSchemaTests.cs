using System.Text.RegularExpressions;
using MailControlPlane.Routing;
using MailControlPlane.Tests.Integration.Postgres;

namespace MailControlPlane.Tests.Routing;

public sealed partial class RoutingTableSchemaTests
{
    [Fact]
    public void PostgresRoutingQuery_ProductCopy_IsTheQueryOfRoutingTableSql() =>
        Assert.Equal(Normalize(RoutingTableDatabase.PlatformQuery), Normalize(RoutingTableSchema.PostgresRoutingQuery));

    [Fact]
    public void PostgresTables_ProductCopy_AreTheTablesOfRoutingTableSql()
    {
        var file = string.Join('\n', File.ReadAllLines(RoutingTableDatabase.SqlPath).Select(l => l.Split("--")[0]));

        Assert.Equal(Normalize(file), Normalize(RoutingTableSchema.PostgresTables));
    }

    private static string Normalize(string sql) => Whitespace().Replace(sql, " ").Trim();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
