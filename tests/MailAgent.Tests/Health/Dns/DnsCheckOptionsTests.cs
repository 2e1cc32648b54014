using System.Security.Cryptography;
using MailAgent.Config;
using Microsoft.Extensions.Configuration;

namespace MailAgent.Tests.Health.Dns;

/// <summary>Health:Dns keys: checked only when dns is among Health:Checks, each error naming key, value and what is valid.</summary>
public sealed class DnsCheckOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-dnsopts-").FullName;
    private readonly string _key;

    public DnsCheckOptionsTests()
    {
        using var rsa = RSA.Create(1024);
        _key = Path.Combine(_dir, "sel.private");
        File.WriteAllText(_key, rsa.ExportRSAPrivateKeyPem());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private List<string> Validate(params (string Key, string Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Health:Checks"] = "dns",
            ["Health:Dns:Resolver"] = "127.0.0.1:5353",
            ["Health:Dns:Domain"] = "example.test",
            ["Health:Dns:HostAddresses"] = "192.0.2.10; 2001:db8::10",
            ["Health:Dns:HostName"] = "mail.example.test",
            ["Health:Dns:DkimSelector"] = "mail-2026",
            ["Health:Dns:DkimKeyFile"] = _key,
        };
        foreach (var (key, value) in overrides)
            settings[key] = value;
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return AgentConfiguration.ValidateHealth(config, out _);
    }

    [Fact]
    public void ValidateHealth_CompleteDnsSection_NoErrorsAndBound()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Health:Dns:Domain"] = "example.test", ["Health:Dns:Timeout"] = "00:00:01",
        }).Build();

        Assert.Empty(Validate());
        AgentConfiguration.ValidateHealth(config, out var health);
        Assert.Equal("example.test", health.Dns.Domain);
        Assert.Equal(TimeSpan.FromSeconds(1), health.Dns.Timeout);
    }

    [Fact]
    public void ValidateHealth_DnsNotAmongChecks_SectionNotRequired()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Health:Checks"] = "disk" }).Build();

        Assert.Empty(AgentConfiguration.ValidateHealth(config, out _));
    }

    [Theory]
    [InlineData("Health:Dns:Resolver", "dns.example:53", "Health:Dns:Resolver = 'dns.example:53' is not valid")]
    [InlineData("Health:Dns:Domain", "", "Health:Dns:Domain = '' is not valid: use the mail domain")]
    [InlineData("Health:Dns:HostAddresses", "", "Health:Dns:HostAddresses is empty")]
    [InlineData("Health:Dns:HostAddresses", "192.0.2.10;mail", "Health:Dns:HostAddresses has 'mail', which is not valid")]
    [InlineData("Health:Dns:HostName", "", "Health:Dns:HostName = '' is not valid")]
    [InlineData("Health:Dns:DkimSelector", "", "Health:Dns:DkimSelector = '' is not valid")]
    [InlineData("Health:Dns:DkimKeyFile", "", "Health:Dns:DkimKeyFile is empty")]
    [InlineData("Health:Dns:DkimKeyFile", "/nonexistent/k.pem", "Health:Dns:DkimKeyFile = '/nonexistent/k.pem' is not valid: cannot be read")]
    [InlineData("Health:Dns:Timeout", "00:01:00", "Health:Dns:Timeout = 00:01:00 is not valid: use 00:00:00.1 to 00:00:30")]
    [InlineData("Health:Dns:Timeout", "00:00:04", "use at most half of Health:CheckTimeout")]
    [InlineData("Health:Dns:Bogus", "1", "'Bogus'")]
    public void ValidateHealth_BadDnsValue_NamesKeyValueAndWhatIsValid(string key, string value, string expected)
    {
        var errors = Validate((key, value));

        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("", true, null)]
    [InlineData("127.0.0.1", true, "127.0.0.1:53")]
    [InlineData("127.0.0.1:5353", true, "127.0.0.1:5353")]
    [InlineData("::1", true, "[::1]:53")]
    [InlineData("[::1]:5353", true, "[::1]:5353")]
    [InlineData("resolver.example", false, null)]
    [InlineData("127.0.0.1:99999", false, null)]
    public void TryParseResolver_Forms(string text, bool ok, string? expected)
    {
        Assert.Equal(ok, MailAgent.Health.Dns.DnsCheckOptions.TryParseResolver(text, out var endpoint));
        Assert.Equal(expected, endpoint?.ToString());
    }
}
