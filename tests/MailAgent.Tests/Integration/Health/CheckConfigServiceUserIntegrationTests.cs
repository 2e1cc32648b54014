using System.Diagnostics;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Health;

/// <summary>
/// <c>check-config</c> as an unprivileged user against a real private Postfix instance with OpenDKIM on a unix
/// socket: what that user may not do (postqueue of an alternate instance) is reported with
/// Postfix's own words, its class and the fix; what it may do is not reported.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CheckConfigServiceUserIntegrationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task CheckConfig_AsNobodyAgainstPrivatePostfix_ReportsPostfixClassesAndMilterAndLog()
    {
        string work = Directory.CreateTempSubdirectory("mailagent-checkconfig-int-").FullName;
        try
        {
            File.SetUnixFileMode(work, (UnixFileMode)0b111_101_101);
            string state = Directory.CreateDirectory(Path.Combine(work, "state")).FullName;
            Run("chown", "nobody:nogroup", state);
            await using var postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { Diagnostics = output.WriteLine, MilterOnUnixSocket = true });
            File.SetUnixFileMode(postfix.LogPath, (UnixFileMode)0b110_000_000);

            // Its own file: an installed package's /etc/mailagent/agent.json is not readable by nobody.
            string config = Path.Combine(work, "agent.json");
            await File.WriteAllTextAsync(config, "{}\n");
            File.SetUnixFileMode(config, (UnixFileMode)0b110_100_100);
            var (exit, text) = await CheckConfigAsNobodyAsync(
                "--config", config,
                $"LogTailing:Path={postfix.LogPath}", $"LogTailing:StateDirectory={state}",
                $"Postfix:ConfigDirectory={postfix.ConfigDirectory}", "Health:Checks=postfix;log;milter");
            output.WriteLine(text);

            Assert.Equal(1, exit);
            Assert.Contains($"error: log {postfix.LogPath}: cannot open for reading: permission denied (mode 0600", text, StringComparison.Ordinal);
            // The private instance is an alternate config directory (not listed in the default instance, or no default instance).
            Assert.Contains("warning: postqueue -j: alternate config directory (exit ", text, StringComparison.Ordinal);
            Assert.Contains("postconf -e alternate_config_directories=", text, StringComparison.Ordinal);
            // 'postfix status' is for root only, so it fails for every other user and is not a finding:
            // run's postfix check asks the master on public/showq instead (postqueue -j needs the same access).
            Assert.DoesNotContain("warning: postfix status: ", text, StringComparison.Ordinal);
            Assert.DoesNotContain("postconf -h mail_version", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<(int Exit, string Output)> CheckConfigAsNobodyAsync(params string[] settings)
    {
        var info = new ProcessStartInfo("/usr/bin/setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var a in (string[])["--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "dotnet", Path.Combine(AppContext.BaseDirectory, "mailagent.dll"), "check-config", "AgentLog:FilePath="])
            info.ArgumentList.Add(a);
        foreach (var s in settings)
            info.ArgumentList.Add(s);
        info.Environment["HOME"] = "/nonexistent";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        return (process.ExitCode, await stdout + await stderr);
    }

    private static void Run(string program, params string[] args)
    {
        using var p = Process.Start(program, args);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
