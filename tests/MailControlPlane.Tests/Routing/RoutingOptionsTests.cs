using MailControlPlane.Routing;
using Microsoft.Extensions.Configuration;

namespace MailControlPlane.Tests.Routing;

public sealed class RoutingOptionsTests
{
    [Fact]
    public void Load_NoSection_DefaultsAreValidAndUseSqlite()
    {
        var errors = new List<string>();

        var options = RoutingOptions.Load(new ConfigurationBuilder().Build(), errors);

        Assert.Empty(errors);
        Assert.False(options.UsesPostgres);
        Assert.Equal("/var/lib/mailagent-control-plane/routing.db", options.SqlitePath);
        Assert.Equal(TimeSpan.FromMinutes(5), options.HealthLogInterval);
        Assert.Equal(10_000, options.HealthLogBufferSize);
        Assert.True(options.LeaderRetryInterval <= TimeSpan.FromSeconds(2));
        Assert.True(options.SeedStandalone);
    }

    [Theory]
    [InlineData("Routing:LeaderRetryInterval", "00:00:05", "Routing:LeaderRetryInterval = 00:00:05 is not valid")]
    [InlineData("Routing:HealthLogBufferSize", "0", "Routing:HealthLogBufferSize = 0 is not valid")]
    [InlineData("Routing:RetryMaxDelay", "00:00:00.100", "Routing:RetryMaxDelay = 00:00:00.1000000 is not valid: use at least Routing:RetryMinDelay")]
    [InlineData("Routing:HealthLogInterval", "00:00:00.500", "Routing:HealthLogInterval = 00:00:00.5000000 is not valid")]
    [InlineData("Routing:ConnectionString", "Hots=x;;=", "Routing:ConnectionString is not valid")]
    [InlineData("Routing:Bogus", "1", "'Bogus'")]
    public void Load_BadValue_ErrorNamesKeyAndValue(string key, string value, string expected)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection([new(key, value)]).Build();
        var errors = new List<string>();

        RoutingOptions.Load(config, errors);

        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }
}
