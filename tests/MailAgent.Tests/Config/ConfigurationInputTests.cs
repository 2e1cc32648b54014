using MailAgent.Tests.Cli;

namespace MailAgent.Tests.Config;

/// <summary>Hostile or mistaken settings get an answer naming the key, through <c>mailagent check-config</c>.</summary>
public sealed class ConfigurationInputTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "agent-config-" + Guid.NewGuid().ToString("N")[..8]);

    public ConfigurationInputTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task CheckConfig_StateDirectoryIsAFile_ErrorNamesTheKey()
    {
        string file = Path.Combine(_dir, "state");
        await File.WriteAllTextAsync(file, "not a directory");

        var (exitCode, _, stderr) = await ReplayRunner.RunAsync("check-config", $"LogTailing:Path={Path.Combine(_dir, "mail.log")}", $"LogTailing:StateDirectory={file}");

        Assert.NotEqual(0, exitCode);
        Assert.Contains($"LogTailing:StateDirectory = '{file}' is a file, not a directory", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_StateDirectoryUnderAFile_ErrorNamesTheKey()
    {
        string file = Path.Combine(_dir, "state");
        await File.WriteAllTextAsync(file, "not a directory");

        var (exitCode, _, stderr) = await ReplayRunner.RunAsync("check-config", $"LogTailing:Path={Path.Combine(_dir, "mail.log")}", $"LogTailing:StateDirectory={file}/sub");

        Assert.NotEqual(0, exitCode);
        Assert.Contains($"LogTailing:StateDirectory = '{file}/sub' cannot be created: '{file}' is a file", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\n  \"Grcp\": { \"Listen\": \"127.0.0.1:9161\" }\n}\n", "line 2, position 3: 'Grcp' is not a section of the agent's settings")]
    [InlineData("{\n  \"Grpc\": { \"Listen\": [\"127.0.0.1:9161\"] }\n}\n", "line 2, position 23: Grpc:Listen is an array; it takes a single value")]
    [InlineData("{\n  \"Grpc\": { \"ReadClients\": { \"a\": \"b\" } }\n}\n", "Grpc:ReadClients is an object; it takes a single value")]
    [InlineData("{\n  \"Grpc\": \"127.0.0.1:9161\"\n}\n", "Grpc is a single value; it must be an object of settings")]
    [InlineData("{\n  \"Grpc\": {\n    \"Listen\": \"127.0.0.1:9161\",,\n  }\n}\n", "not valid JSON at line 3, position 32 (in Grpc:Listen)")]
    [InlineData("{\n  \"Grpc\": { \"Listen\": \"127.0.0.1:9161\" \n", "not valid JSON at line 3")]
    public async Task CheckConfig_BadFile_ErrorNamesTheKeyAndTheLine(string json, string expected)
    {
        string file = Path.Combine(_dir, "agent.json");
        await File.WriteAllTextAsync(file, json);

        var (exitCode, _, stderr) = await ReplayRunner.RunAsync("check-config", "--config", file, $"LogTailing:Path={Path.Combine(_dir, "mail.log")}", $"LogTailing:StateDirectory={_dir}");

        Assert.NotEqual(0, exitCode);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_UnknownSectionOnTheCommandLine_ErrorNamesIt()
    {
        var (exitCode, _, stderr) = await ReplayRunner.RunAsync("check-config", "Grcp:Listen=127.0.0.1:9161", $"LogTailing:Path={Path.Combine(_dir, "mail.log")}", $"LogTailing:StateDirectory={_dir}");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("'Grcp:Listen=127.0.0.1:9161': 'Grcp' is not a section of the agent's settings", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_StructuredKeysWhereAllowed_Accepted()
    {
        string file = Path.Combine(_dir, "agent.json");
        // Comments and trailing commas are accepted, as by the configuration provider.
        await File.WriteAllTextAsync(file, "{\n  // the log\n  \"LogTailing\": { \"Path\": \"" + Path.Combine(_dir, "mail.log") + "\", \"StateDirectory\": \"" + _dir + "\", },\n  \"Certificates\": { \"ReloadCommands\": [] },\n}\n");

        var (_, _, stderr) = await ReplayRunner.RunAsync("check-config", "--config", file);

        Assert.DoesNotContain("agent.json", stderr, StringComparison.Ordinal);
    }
}
