using MailAgent.Cli;

namespace MailAgent.Tests.Cli;

/// <summary>The System.CommandLine tree: errors name the option and the fix, exit 2, and print the usage.</summary>
public sealed class CommandLineTests
{
    [Theory]
    [InlineData(new[] { "nosuch" }, "mailagent: unknown command 'nosuch'")]
    [InlineData(new[] { "replay", "x.log", "--bogus" }, "mailagent replay: unknown option '--bogus'")]
    [InlineData(new[] { "replay", "--format" }, "mailagent replay: --format needs a value")]
    [InlineData(new[] { "replay", "x.log", "--format=xml" }, "mailagent replay: --format 'xml' is not one of json, prometheus, summary")]
    [InlineData(new[] { "replay", "--probe-source", "nowhere", "x.log" }, "mailagent replay: --probe-source 'nowhere' is not an IP address")]
    [InlineData(new[] { "events", "--format", "yaml" }, "mailagent events: --format 'yaml' is not one of json, text")]
    [InlineData(new[] { "queue", "-f", "text" }, "mailagent queue: --format 'text' is not one of json, prometheus")]
    [InlineData(new[] { "pki" }, "mailagent pki: missing subcommand: use init or issue")]
    [InlineData(new[] { "pki", "renew" }, "mailagent pki: unknown subcommand 'renew': use one of init, issue")]
    [InlineData(new[] { "pki", "issue", "--days", "ten" }, "mailagent pki issue: --days ten is not valid: use 1 to 3650")]
    [InlineData(new[] { "pki", "init", "--dir" }, "mailagent pki init: --dir needs a value")]
    [InlineData(new[] { "apply-config", "a.cf", "b.cf" }, "mailagent apply-config: unexpected argument 'b.cf': one FILE only")]
    public async Task Run_BadArguments_ExitTwoNamingTheProblem(string[] args, string message)
    {
        var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync(args);

        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.StartsWith(message, stderr, StringComparison.Ordinal);
        Assert.Contains("\n\n", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_NoArguments_OverviewOnStandardErrorExitTwo()
    {
        var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync();

        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.Equal(CommandLine.Usage, stderr.TrimEnd());
    }

    [Theory]
    [InlineData("pki", "init", "--help")]
    [InlineData("pki", "issue", "-h", "--days", "0")]
    public async Task Help_OnASubcommand_PrintsItsCommandsPage(params string[] args)
    {
        var (exitCode, stdout, _) = await ReplayRunner.RunAsync(args);

        Assert.Equal(0, exitCode);
        Assert.Equal(HelpPages.For("pki"), stdout.TrimEnd());
    }

    [Theory]
    [InlineData("version")]
    [InlineData("--version")]
    public async Task Version_EitherSpelling_PrintsTheVersion(string arg)
    {
        var (exitCode, stdout, _) = await ReplayRunner.RunAsync(arg);

        Assert.Equal(0, exitCode);
        Assert.Equal($"mailagent {ProductVersion.Text}", stdout.TrimEnd());
    }

    [Fact]
    public async Task Replay_FormatWithEqualsAndStandardInput_ParsedAsBefore()
    {
        byte[] log = "Nov 28 10:00:00 mx postfix/qmgr[1]: 4ABC: from=<a@example.org>, size=100, nrcpt=1 (queue active)\n"u8.ToArray();

        var (exitCode, stdout, stderr) = await ReplayRunner.RunWithInputAsync(log, "replay", "--format=summary", "-");

        Assert.True(exitCode == 0, stderr);
        Assert.Contains("Grand totals", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_AtSignFile_IsAFileNotAResponseFile()
    {
        var (exitCode, _, stderr) = await ReplayRunner.RunAsync("replay", "@no-such-file");

        Assert.Equal(1, exitCode);
        Assert.Contains("replay: cannot read '@no-such-file'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApplyConfig_SettingBeforeFile_TakesTheFileAndTheSetting()
    {
        var (exitCode, _, stderr) = await ReplayRunner.RunAsync("apply-config", "Queue:TopDomains=-1", "change.cf");

        Assert.Equal(2, exitCode);
        Assert.Contains("Queue:TopDomains = -1 is not valid", stderr, StringComparison.Ordinal);
    }
}
