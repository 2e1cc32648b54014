using MailControlPlane.Registry;

namespace MailControlPlane.Tests.Registry;

public sealed class ControlPlaneConfigurationTests : IDisposable
{
    private readonly TestPki _pki = new();

    private List<string> Validate(out ControlPlaneSettings settings, params string[] extra)
    {
        string[] args =
        [
            "Agents:0:Name=postfix-oregon", "Agents:0:Address=https://127.0.0.1:9161", "Agents:0:Region=us-west-2", "Agents:0:ProviderName=postfix-oregon",
            "Agents:1:Name=postfix-virginia", "Agents:1:Address=https://localhost:9162", "Agents:1:Region=us-east-1", "Agents:1:ProviderName=postfix-virginia",
            $"Tls:CaFile={_pki.CaFile}", $"Tls:CertificateFile={_pki.ClientCertificate}", $"Tls:KeyFile={_pki.ClientKey}",
            "Routing:SqlitePath=/tmp/routing.db", "Log:FilePath=",
            .. extra,
        ];
        var config = ControlPlaneConfiguration.Build(args, out _, out var errors);
        errors.AddRange(ControlPlaneConfiguration.Validate(config, out settings));
        return errors;
    }

    [Fact]
    public void Validate_TwoAgents_BuildsTheRegistry()
    {
        var errors = Validate(out var settings, "Connections:StatusInterval=00:00:01", "Http:Urls=http://127.0.0.1:0");
        Assert.Empty(errors);
        Assert.Equal(["postfix-oregon", "postfix-virginia"], settings.Registry.ProviderNames);
        Assert.Equal(new Uri("https://localhost:9162"), settings.Registry.Find("postfix-virginia")!.Address);
        Assert.Equal("us-west-2", settings.Registry.Agents[0].Region);
        Assert.Equal(TimeSpan.FromSeconds(1), settings.Connections.StatusInterval);
    }

    [Theory]
    [InlineData("Agents:1:Address=http://127.0.0.1:9162", "Agents:1:Address = 'http://127.0.0.1:9162' is not valid: use https://HOST:PORT")]
    [InlineData("Agents:1:ProviderName=postfix-oregon", "Agents:1:ProviderName = 'postfix-oregon' is backed by another agent too")]
    [InlineData("Agents:1:Name=postfix-oregon", "Agents:1:Name = 'postfix-oregon' is used twice")]
    [InlineData("Connections:HeartbeatTimeout=00:00:01", "Connections:HeartbeatTimeout = 00:00:01 is not valid: use more than Connections:StatusInterval")]
    [InlineData("Connections:BackoffMax=00:00:00.1", "Connections:BackoffMax = 00:00:00.1000000 is not valid: use at least Connections:BackoffMin")]
    [InlineData("Http:Urls=ftp://x", "Http:Urls has 'ftp://x', which is not valid")]
    [InlineData("Tls:CaFile=/nonexistent/ca.crt", "Tls:CaFile = '/nonexistent/ca.crt': no such file")]
    [InlineData("Grpc:Listen=nowhere", "Grpc:Listen = 'nowhere' is not valid")]
    [InlineData("Log:Level=Loud", "Log:Level = 'Loud' is not valid")]
    [InlineData("Connections:Bogus=1", "Connections takes StatusInterval")]
    [InlineData("Grcp:Listen=127.0.0.1:9171", "'Grcp' is not a section of the control plane's settings")]
    [InlineData("Grpc:Listen=127.0.0.1:0", "Grpc:ReadClients and Grpc:WriteClients are empty")]
    public void Validate_BadKey_NamesKeyAndValue(string setting, string expected)
    {
        var errors = Validate(out _, setting);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{\n  \"Grcp\": { \"Listen\": \"127.0.0.1:9171\" }\n}\n", "line 2, position 3: 'Grcp' is not a section of the control plane's settings")]
    [InlineData("{\n  \"Grpc\": { \"WriteClients\": [\"admin\"] }\n}\n", "line 2, position 29: Grpc:WriteClients is an array; it takes a single value")]
    [InlineData("{\n  \"Log\": { \"Level\": \"Debug\" \n", "not valid JSON at line 3")]
    public void Validate_BadFile_NamesTheKeyAndTheLine(string json, string expected)
    {
        string file = Path.Combine(_pki.Dir, "control-plane.json");
        File.WriteAllText(file, json);

        var errors = Validate(out _, "--config", file);

        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_AgentsListInTheFile_Accepted()
    {
        string file = Path.Combine(_pki.Dir, "control-plane.json");
        File.WriteAllText(file, "{ \"Agents\": [ { \"Name\": \"postfix-oregon\", \"Address\": \"https://127.0.0.1:9161\", \"Region\": \"us-west-2\", \"ProviderName\": \"postfix-oregon\" } ] }");

        var errors = Validate(out _, "--config", file, "Http:Urls=http://127.0.0.1:0");

        Assert.Empty(errors);
    }

    [Fact]
    public void Validate_KeyNotMatchingCertificate_SaysSo()
    {
        var errors = Validate(out _, $"Tls:KeyFile={_pki.ServerKey}");
        Assert.Contains(errors, e => e.StartsWith("Tls:CertificateFile = ", StringComparison.Ordinal) && e.Contains("not a matching", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_NoAgents_SaysHowToAddOne()
    {
        var config = ControlPlaneConfiguration.Build(["Routing:SqlitePath=/tmp/x.db"], out _, out _);
        var errors = ControlPlaneConfiguration.Validate(config, out _);
        Assert.Contains(errors, e => e.StartsWith("Agents is empty", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_StrayArgument_IsAnError()
    {
        ControlPlaneConfiguration.Build(["--verbose"], out _, out var errors);
        Assert.Contains("unexpected argument '--verbose'", errors[0], StringComparison.Ordinal);
    }

    public void Dispose() => _pki.Dispose();
}
