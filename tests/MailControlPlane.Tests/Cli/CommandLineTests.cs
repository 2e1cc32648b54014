using System.Text;
using MailControlPlane.Cli;

namespace MailControlPlane.Tests.Cli;

/// <summary>The System.CommandLine tree of mailagent-control-plane: help pages, versions, usage errors.</summary>
public sealed class CommandLineTests
{
    [Theory]
    [InlineData(new[] { "nosuch" }, "mailagent-control-plane: unknown command 'nosuch'")]
    [InlineData(new[] { "suppressions", "--days", "0" }, "mailagent-control-plane suppressions: --days '0' is not valid: use 1 to 3650")]
    [InlineData(new[] { "suppressions", "--format", "csv" }, "mailagent-control-plane suppressions: --format 'csv' is not one of text, json")]
    [InlineData(new[] { "suppressions", "--days" }, "mailagent-control-plane suppressions: --days needs a value")]
    public async Task Run_BadArguments_ExitTwoNamingTheProblem(string[] args, string message)
    {
        var (exitCode, stdout, stderr) = await RunAsync(args);

        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.StartsWith(message, stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("check-config")]
    [InlineData("suppressions")]
    [InlineData("version")]
    public async Task DashDashHelp_EveryCommand_SamePageAsHelpCommand(string command)
    {
        var (helpCode, help, _) = await RunAsync("help", command);
        var (code, page, _) = await RunAsync(command, "--help");

        Assert.Equal(0, helpCode);
        Assert.Equal(0, code);
        Assert.Contains("EXIT STATUS", page, StringComparison.Ordinal);
        Assert.Equal(help, page);
    }

    [Theory]
    [InlineData("version")]
    [InlineData("--version")]
    public async Task Version_EitherSpelling_PrintsTheVersion(string arg)
    {
        var (exitCode, stdout, _) = await RunAsync(arg);

        Assert.Equal(0, exitCode);
        Assert.Equal($"mailagent-control-plane {CommandLine.Version}", stdout.TrimEnd());
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        var context = new CliContext(stdout, stderr, TimeProvider.System);
        int exitCode = await CommandLine.RunAsync(args, context);
        await context.Out.FlushAsync();
        return (exitCode, Encoding.UTF8.GetString(stdout.ToArray()), Encoding.UTF8.GetString(stderr.ToArray()));
    }
}
