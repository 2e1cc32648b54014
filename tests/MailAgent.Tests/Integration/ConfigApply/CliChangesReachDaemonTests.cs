using System.Diagnostics;
using MailAgent.Tests.Cli;
using MailAgent.Tests.Integration.Agent;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.ConfigApply;

/// <summary>One view of changes: what the CLI does to a real private Postfix reaches the running daemon's metrics and checks.</summary>
public sealed class CliChangesReachDaemonTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ApplyConfigCli_RolledBack_DaemonCountsItAndConfigDegraded()
    {
        string work = Directory.CreateTempSubdirectory("mailagent-cli-daemon-").FullName;
        try
        {
            await using var postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions { Diagnostics = output.WriteLine });
            string audit = Path.Combine(work, "audit.log");
            string[] common =
            [
                $"Postfix:ConfigDirectory={postfix.ConfigDirectory}",
                $"ConfigApply:AuditLogPath={audit}",
                $"Health:SmtpEndpoints=127.0.0.1:{postfix.SmtpPort}",
            ];
            await using var agent = await AgentProcess.StartAsync(
                [.. common, $"LogTailing:StateDirectory={Path.Combine(work, "daemon")}", "Health:Checks=log", "Health:Interval=00:00:01"]);
            Assert.Equal(0, AgentProcess.Value(await agent.ScrapeAsync(), "mailagent_config_applies_total", "result=\"rolled_back\""));

            string change = Path.Combine(work, "change.cf");
            await File.WriteAllTextAsync(change, "smtpd_client_connection_count_limit = many\n");
            var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync(TimeProvider.System, [], ["apply-config", change, .. common, $"LogTailing:StateDirectory={Path.Combine(work, "cli")}"]);
            output.WriteLine(stdout + stderr);
            Assert.Contains("result: rolled_back", stdout, StringComparison.Ordinal);
            Assert.NotEqual(0, exitCode);

            // Within one health interval (1 s), plus scheduling slack on a loaded machine.
            var started = Stopwatch.GetTimestamp();
            string metrics;
            while (AgentProcess.Value(metrics = await agent.ScrapeAsync(), "mailagent_config_applies_total", "result=\"rolled_back\"") < 1)
            {
                if (Stopwatch.GetElapsedTime(started) >= Deadline)
                    throw new TimeoutException("the daemon did not count the CLI rollback:\n" + metrics + "\n" + agent.Output);
                await Task.Delay(100);
            }

            // The config check degrades at its next run (one health interval).
            string health;
            while (!(health = (await agent.GetAsync("/health")).Body).Contains("config apply rolled back", StringComparison.Ordinal))
            {
                if (Stopwatch.GetElapsedTime(started) >= Deadline)
                    throw new TimeoutException("the config check did not degrade:\n" + health);
                await Task.Delay(100);
            }

            output.WriteLine(health);
            Assert.Contains("Config apply by local:", agent.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
