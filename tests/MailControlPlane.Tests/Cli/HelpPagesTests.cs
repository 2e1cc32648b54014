using System.Text;
using MailControlPlane.Cli;

namespace MailControlPlane.Tests.Cli;

/// <summary>Every command has a man-style page: mailagent-control-plane help COMMAND.</summary>
public sealed class HelpPagesTests
{
    [Theory]
    [InlineData("run")]
    [InlineData("check-config")]
    [InlineData("version")]
    [InlineData("suppressions")]
    public async Task Help_Command_PrintsEveryManSection(string command)
    {
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        var context = new CliContext(stdout, stderr, TimeProvider.System);

        int exit = await CommandLine.RunAsync(["help", command], context);

        string page = Encoding.UTF8.GetString(stdout.ToArray());
        Assert.Equal(0, exit);
        foreach (var section in new[] { "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "FILES", "EXAMPLES" })
            Assert.Contains("\n" + section + "\n", "\n" + page.Replace("\r", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains($"mailagent-control-plane {command}", page, StringComparison.Ordinal);
    }
}
