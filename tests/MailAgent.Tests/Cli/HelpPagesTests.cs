using System.Text;
using System.Text.RegularExpressions;
using MailAgent.Cli;

namespace MailAgent.Tests.Cli;

public sealed partial class HelpPagesTests
{
    private static readonly string[] Sections = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "FILES", "EXAMPLES"];

    public static TheoryData<string> UsageCommands()
    {
        var data = new TheoryData<string>();
        foreach (var c in UsageLine().Matches(CommandLine.Usage).Select(m => m.Groups[1].Value).Distinct())
            data.Add(c);
        return data;
    }

    [Theory]
    [MemberData(nameof(UsageCommands))]
    public async Task Help_EveryCommandInUsage_PrintsEveryManSection(string command)
    {
        var (code, page) = await RunAsync("help", command);

        Assert.Equal(0, code);
        foreach (var section in Sections)
            Assert.Contains("\n" + section + "\n", "\n" + page, StringComparison.Ordinal);
        Assert.Contains($"mailagent {command} - ", page, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(UsageCommands))]
    public async Task DashDashHelp_EveryCommand_SamePageAsHelpCommand(string command)
    {
        var (helpCode, help) = await RunAsync("help", command);
        var (code, page) = await RunAsync(command, "--help");

        Assert.Equal(0, helpCode);
        Assert.Equal(0, code);
        Assert.Equal(help, page);
    }

    [Fact]
    public void Pages_EveryPage_ListedInUsage()
    {
        var listed = UsageLine().Matches(CommandLine.Usage).Select(m => m.Groups[1].Value).ToHashSet();

        Assert.All(HelpPages.Commands, c => Assert.Contains(c, listed));
    }

    [Fact]
    public async Task HelpRun_Page_ListsEveryConfigurationKeyOfRunUsage()
    {
        var (_, page) = await RunAsync("help", "run");

        Assert.Contains("LogTailing:Path", page, StringComparison.Ordinal);
        Assert.Contains("Grpc:EventBufferSize", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_UnknownCommand_PrintsOverview()
    {
        var (code, text) = await RunAsync("help", "no-such-command");

        Assert.Equal(0, code);
        Assert.Equal(CommandLine.Usage, text.TrimEnd());
    }

    private static async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        var context = new CliContext(Stream.Null, stdout, stderr, TimeProvider.System);
        int code = await CommandLine.RunAsync(args, context);
        await context.Out.FlushAsync();
        return (code, Encoding.UTF8.GetString(stdout.ToArray()) + Encoding.UTF8.GetString(stderr.ToArray()));
    }

    [GeneratedRegex(@"^  mailagent ([a-z][a-z-]*)", RegexOptions.Multiline)]
    private static partial Regex UsageLine();
}
