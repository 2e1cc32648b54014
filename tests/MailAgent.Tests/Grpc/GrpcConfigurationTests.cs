using MailAgent.Config;

namespace MailAgent.Tests.Grpc;

public sealed class GrpcConfigurationTests
{
    private static List<string> Errors(params string[] settings)
    {
        var config = AgentConfiguration.Build(settings, out _, out var errors);
        errors.AddRange(AgentConfiguration.Validate(config, out _));
        return errors;
    }

    [Fact]
    public void Validate_ListenEmpty_GrpcIsOffAndNeedsNothing()
    {
        Assert.DoesNotContain(Errors("LogTailing:Path=/tmp/x.log"), e => e.Contains("Grpc", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_BadListen_NamesTheKeyAndTheValue()
    {
        var errors = Errors("Grpc:Listen=not-an-address", "Grpc:ReadClients=cp");

        Assert.Contains(errors, e => e.StartsWith("Grpc:Listen = 'not-an-address' is not valid", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ListenWithoutFilesOrClients_NamesEachMissingKey()
    {
        var errors = Errors("Grpc:Listen=127.0.0.1:0", "Grpc:CaFile=/nonexistent/ca.crt");

        Assert.Contains(errors, e => e.StartsWith("Grpc:CaFile = '/nonexistent/ca.crt': no such file", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Grpc:CertificateFile is empty", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Grpc:KeyFile is empty", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Grpc:ReadClients is empty", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_EventBufferTooSmall_SaysWhatIsValid()
    {
        Assert.Contains(Errors("Grpc:EventBufferSize=5"), e => e == "Grpc:EventBufferSize = 5 is not valid: use 100 to 1000000");
    }
}
