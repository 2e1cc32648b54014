using System.Diagnostics;
using MailAgent.Postfix;
using MailAgent.Queue;
using MailAgent.Tests.Integration.Postfix;
using MailAgent.Tests.Queue;

namespace MailAgent.Tests.Postfix;

/// <summary>The one Postfix command seam with stand-in scripts: arguments as a list, streaming, a hung run killed, one error policy.</summary>
public sealed class PostfixCommandsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mailagent-postqueue-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task ListQueue_ConfigDirectoryWithShellCharacters_PassedAsOneArgument()
    {
        var configDirectory = Path.Combine(_dir.FullName, "main cf; echo $HOME `id` >x");
        var argsFile = Path.Combine(_dir.FullName, "args");
        var postqueue = Script("printf '%s\\n' \"$@\" > '" + argsFile + "'\ncat '" + TestData.PathOf("postqueue-j.jsonl") + "'\n");
        var postfix = new PostfixOptions { PostqueuePath = postqueue, ConfigDirectory = configDirectory };

        var snapshot = await new QueueInspector(new PostfixCommands(postfix), new QueueOptions(), TimeProvider.System).InspectAsync(CancellationToken.None);

        Assert.True(snapshot.Succeeded, snapshot.Error);
        Assert.Equal(1550, snapshot.Summary!.Messages);
        Assert.Equal(["-c", configDirectory, "-j"], File.ReadAllLines(argsFile));
        Assert.False(File.Exists(Path.Combine(_dir.FullName, "x")));
    }

    [Fact]
    public async Task ListQueue_NoConfigDirectory_OnlyDashJ()
    {
        var argsFile = Path.Combine(_dir.FullName, "args");
        var postfix = new PostfixOptions { PostqueuePath = Script("printf '%s\\n' \"$@\" > '" + argsFile + "'\n") };

        var snapshot = await new QueueInspector(new PostfixCommands(postfix), new QueueOptions(), TimeProvider.System).InspectAsync(CancellationToken.None);

        Assert.True(snapshot.Succeeded, snapshot.Error);
        Assert.Equal(0, snapshot.Summary!.Messages);
        Assert.Equal(["-j"], File.ReadAllLines(argsFile));
    }

    [Fact]
    public async Task ListQueue_OutputReadWhileTheProcessRuns()
    {
        // The script waits for a file that only appears once the first line has been summarised:
        // it would time out if the output were read only after the process ended.
        var go = Path.Combine(_dir.FullName, "go");
        var line = QueueSummarizerTests.Entry("hold", 1_795_827_766, 10, ("u@a.test", null));
        var postfix = new PostfixOptions
        {
            PostqueuePath = Script($"echo '{line}'\nwhile [ ! -e '{go}' ]; do sleep 0.05; done\necho '{line}'\n"),
        };
        var commands = new PostfixCommands(postfix);
        var summarizer = new QueueSummarizer(DateTimeOffset.UnixEpoch, [60], topDomains: 1);

        var result = await commands.ListQueueAsync(
            async (output, token) =>
            {
                var reading = QueueOutputReader.ReadAsync(output, summarizer, 1 << 20, token);
                await Eventually.UntilAsync(() => summarizer.Lines, n => n == 1, TimeSpan.FromSeconds(10), n => $"{n} lines read", token);
                await File.WriteAllTextAsync(go, "", token);
                await reading;
            },
            CancellationToken.None);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(2, summarizer.Lines);
    }

    [Fact]
    public async Task Inspect_HungPostqueue_KilledAtTheTimeout()
    {
        var pidFile = Path.Combine(_dir.FullName, "pid");
        var script = Script($"echo $$ > '{pidFile}'\nexec sleep 60\n");
        var postfix = new PostfixOptions { PostqueuePath = script };
        var options = new QueueOptions { Timeout = TimeSpan.FromSeconds(1) };
        var started = Stopwatch.GetTimestamp();

        var snapshot = await new QueueInspector(new PostfixCommands(postfix), options, TimeProvider.System).InspectAsync(CancellationToken.None);

        Assert.False(snapshot.Succeeded);
        Assert.True(snapshot.TimedOut);
        Assert.True(Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(15));
        if (File.Exists(pidFile))
        {
            int pid = int.Parse(File.ReadAllText(pidFile).Trim());
            await Eventually.UntilAsync(() => IsRunning(pid), running => !running, TimeSpan.FromSeconds(10), _ => $"postqueue stand-in {pid} still runs");
        }
        else
        {
            // Killed before it wrote its pid (a loaded machine): then it was still the script, named on its command line.
            await Eventually.UntilAsync(() => RunningWithArgument(script), any => !any, TimeSpan.FromSeconds(10), _ => $"{script} still runs");
        }
    }

    [Fact]
    public async Task Inspect_NonZeroExit_FailureNamesStatusAndFirstErrorLine()
    {
        var postfix = new PostfixOptions { PostqueuePath = Script("echo 'postqueue: fatal: open /nonexistent/main.cf: No such file or directory' >&2\necho more >&2\nexit 69\n") };

        var snapshot = await new QueueInspector(new PostfixCommands(postfix), new QueueOptions(), TimeProvider.System).InspectAsync(CancellationToken.None);

        Assert.False(snapshot.Succeeded);
        Assert.False(snapshot.TimedOut);
        Assert.Equal("postqueue exited with status 69: postqueue: fatal: open /nonexistent/main.cf: No such file or directory", snapshot.Error);
        Assert.Null(snapshot.Summary);
    }

    [Fact]
    public async Task Inspect_MissingProgram_FailureNamesIt()
    {
        var postfix = new PostfixOptions { PostqueuePath = Path.Combine(_dir.FullName, "no-such-postqueue") };

        var snapshot = await new QueueInspector(new PostfixCommands(postfix), new QueueOptions(), TimeProvider.System).InspectAsync(CancellationToken.None);

        Assert.False(snapshot.Succeeded);
        Assert.StartsWith($"cannot run '{postfix.PostqueuePath}':", snapshot.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postfix: fatal: do not specify alternate configuration directory /srv/pf unless it is listed in the default main.cf alternate_config_directories parameter", "AlternateConfigDirectory")]
    [InlineData("postfix: fatal: open /etc/postfix/main.cf: Permission denied", "Permission")]
    [InlineData("postsuper: fatal: to submit mail, use the Postfix sendmail command; only the superuser may do this", "Permission")]
    [InlineData("postfix/postfix-script: fatal: the Postfix mail system is not running", "NotRunning")]
    [InlineData("postfix/postfix-script: fatal: something else", "Other")]
    public async Task Postfix_FailingProgram_ExitCodeOutputAndClass(string stderr, string expected)
    {
        var options = new PostfixOptions { PostfixPath = Script($"echo 'out line'\necho '{stderr}' >&2\nexit 1\n") };

        var result = await new PostfixCommands(options).PostfixAsync(["reload"], CancellationToken.None);

        Assert.True(result.Started);
        Assert.False(result.Succeeded);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("out line\n", result.StandardOutput);
        Assert.Equal(stderr, result.StandardError.Trim());
        Assert.Equal(Enum.Parse<PostfixFailure>(expected), result.Failure);
    }

    [Fact]
    public async Task Postconf_StagedDirectory_OverridesTheConfiguredOne()
    {
        var options = new PostfixOptions { PostconfPath = Script("printf '%s\\n' \"$@\"\n"), ConfigDirectory = "/etc/postfix-main" };

        var result = await new PostfixCommands(options).PostconfAsync(["-n"], CancellationToken.None, configDirectory: "/tmp/stage");

        Assert.True(result.Succeeded, result.Output);
        Assert.Equal(PostfixFailure.None, result.Failure);
        Assert.Equal("-c\n/tmp/stage\n-n\n", result.StandardOutput);
        Assert.Equal("/tmp/stage", result.ConfigDirectory);
    }

    [Fact]
    public async Task Postqueue_MainCfUnreadableWithAlternateDirectory_AlternateConfigDirectory()
    {
        // Non-root postqueue -c DIR reads the default main.cf first; failing there is the alternate-directory rule.
        var options = new PostfixOptions
        {
            PostqueuePath = Script("echo 'postqueue: fatal: open /etc/postfix/main.cf: No such file or directory' >&2\nexit 1\n"),
            ConfigDirectory = _dir.FullName,
        };

        var result = await new PostfixCommands(options).ListQueueAsync(null, CancellationToken.None);

        Assert.Equal(PostfixFailure.AlternateConfigDirectory, result.Failure);
    }

    [Fact]
    public async Task Postfix_MissingProgram_NotInstalledResultNotException()
    {
        var options = new PostfixOptions { PostfixPath = Path.Combine(_dir.FullName, "no-such-postfix") };

        var result = await new PostfixCommands(options).StatusAsync(CancellationToken.None);

        Assert.False(result.Started);
        Assert.Equal(PostfixFailure.NotInstalled, result.Failure);
        Assert.StartsWith($"cannot run '{options.PostfixPath}':", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postfix_HungProgram_KilledAtTheSeamsLimitAsTimedOut()
    {
        var options = new PostfixOptions { PostfixPath = Script("exec sleep 60\n") };

        var result = await new PostfixCommands(options, timeout: TimeSpan.FromMilliseconds(300)).PostfixAsync(["check"], CancellationToken.None);

        Assert.True(result.TimedOut);
        Assert.Equal(PostfixFailure.TimedOut, result.Failure);
        Assert.Contains("did not finish within", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postfix_CallerCancels_Throws()
    {
        var options = new PostfixOptions { PostfixPath = Script("exec sleep 60\n") };
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new PostfixCommands(options).PostfixAsync(["check"], cancel.Token));
    }

    private static bool IsRunning(int pid)
    {
        // A killed child may linger as a zombie for a moment; that is not running.
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat))
            return false;
        try
        {
            var text = File.ReadAllText(stat);
            return text[(text.LastIndexOf(')') + 2)] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static bool RunningWithArgument(string argument)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
                continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0').Contains(argument) && IsRunning(pid))
                    return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }

        return false;
    }

    private string Script(string body) => StandInScript.Create(_dir.FullName, body);
}
