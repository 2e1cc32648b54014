using System.Text;
using MailAgent.Tests.Integration.Agent;

namespace MailAgent.Tests.Integration.LogTailing;

/// <summary>
/// The real daemon follows a log while a writer appends at speed and the log is rotated by
/// rename 50 times and by copytruncate 50 times, and the agent is killed with SIGKILL and
/// restarted 10 times. Every line must be counted exactly once.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RotationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-rotation-").FullName;

    [Fact]
    public async Task Daemon_RenameCopytruncateAndKill_CountsEveryLineOnce()
    {
        string log = Path.Combine(_dir, "mail.log");
        string[] settings =
        [
            $"LogTailing:Path={log}",
            $"LogTailing:StateDirectory={Path.Combine(_dir, "state")}",
            "LogTailing:StartAt=Beginning",
            "LogTailing:PollInterval=00:00:00.200",
            "LogTailing:CheckpointInterval=00:00:00.100",
            "LogTailing:RotatedFileGrace=00:00:01",
        ];

        var writer = new LogWriter(log);
        var agent = await AgentProcess.StartAsync(settings);
        try
        {
            int renames = 0, truncates = 0, kills = 0;
            for (int round = 0; round < 110; round++)
            {
                writer.Append(400);
                if (round % 11 == 5 && kills < 10)
                {
                    await agent.KillAsync();
                    await agent.DisposeAsync();
                    writer.Append(300); // written while the agent is down
                    agent = await AgentProcess.StartAsync(settings);
                    kills++;
                }
                else if (round % 2 == 0 && renames < 50)
                {
                    await WriteTailAndRotateAsync(agent, writer, () => writer.RotateByRename(renames++));
                }
                else if (truncates < 50)
                {
                    await WriteTailAndRotateAsync(agent, writer, () => writer.RotateByCopyTruncate(truncates++));
                }
            }

            writer.Append(500);
            Assert.Equal(10, kills);
            Assert.Equal(50, renames);
            Assert.Equal(50, truncates);

            string metrics = "";
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                metrics = await agent.ScrapeAsync();
                if (Sent(metrics) >= writer.Sent && Deferred(metrics) >= writer.Deferred && Bounced(metrics) >= writer.Bounced)
                    break;
                await Task.Delay(200);
            }

            // Let a late double count show up if there is one.
            await Task.Delay(1500);
            metrics = await agent.ScrapeAsync();
            Assert.True(writer.Sent == Sent(metrics), $"sent: wrote {writer.Sent}, agent counted {Sent(metrics)}\n{agent.Output}\n{metrics}");
            Assert.Equal(writer.Deferred, Deferred(metrics));
            Assert.Equal(writer.Bounced, Bounced(metrics));
            Assert.Equal(writer.Lines, AgentProcess.Value(metrics, "mailagent_log_lines_total"));
        }
        finally
        {
            await agent.DisposeAsync();
            writer.Dispose();
        }
    }

    // The agent has read the batch; a few more lines go in and the log is rotated at once, so
    // those lines are unread when it happens (they must come from the renamed file or the copy).
    // Waiting for the batch first keeps out the one case no tailer can handle: a copytruncate of
    // a file of which it has not yet read a single byte, which looks like an empty file.
    private static async Task WriteTailAndRotateAsync(AgentProcess agent, LogWriter writer, Action rotate)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && AgentProcess.Value(await agent.ScrapeAsync(), "mailagent_log_lines_total") < writer.Lines)
            await Task.Delay(20);
        writer.Append(25);
        await RotateAsync(agent, rotate);
    }

    // logrotate never rotates twice within milliseconds: let the agent notice one rotation
    // (its counter moves) before the next, while the writer goes on writing.
    private static async Task RotateAsync(AgentProcess agent, Action rotate)
    {
        double before = AgentProcess.Value(await agent.ScrapeAsync(), "mailagent_log_rotations_total");
        rotate();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && AgentProcess.Value(await agent.ScrapeAsync(), "mailagent_log_rotations_total") <= before)
            await Task.Delay(20);
    }

    private static double Sent(string m) => AgentProcess.Value(m, "postfix_delivery_status_total", "service=\"smtp\"", "status=\"sent\"");

    private static double Deferred(string m) => AgentProcess.Value(m, "postfix_delivery_status_total", "service=\"smtp\"", "status=\"deferred\"");

    private static double Bounced(string m) => AgentProcess.Value(m, "postfix_delivery_status_total", "service=\"smtp\"", "status=\"bounced\"");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Appends Postfix delivery lines the way postlogd does (append mode, whole lines).</summary>
    private sealed class LogWriter : IDisposable
    {
        private readonly string _path;
        private FileStream _stream;
        private int _serial;

        public LogWriter(string path)
        {
            _path = path;
            _stream = Open();
        }

        public long Lines { get; private set; }
        public long Sent { get; private set; }
        public long Deferred { get; private set; }
        public long Bounced { get; private set; }

        public void Append(int count)
        {
            var sb = new StringBuilder();
            for (int i = 0; i < count; i++)
            {
                int n = ++_serial;
                string qid = (0x1000000000L + n).ToString("X10");
                string status = (n % 10) switch
                {
                    < 6 => "sent (250 2.0.0 Ok)",
                    < 9 => "deferred (host 127.0.0.1[127.0.0.1] said: 451 4.7.1 Try again later (in reply to RCPT TO command))",
                    _ => "bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 No such user (in reply to RCPT TO command))",
                };
                string dsn = (n % 10) switch { < 6 => "2.0.0", < 9 => "4.7.1", _ => "5.1.1" };
                sb.Append("Nov 28 00:00:01 mail-test postfix/smtp[4242]: ").Append(qid)
                  .Append(": to=<user").Append(n).Append("@example.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.1, delays=0.01/0.01/0.04/0.04, dsn=")
                  .Append(dsn).Append(", status=").Append(status).Append('\n');
                if (n % 10 < 6)
                    Sent++;
                else if (n % 10 < 9)
                    Deferred++;
                else
                    Bounced++;
                Lines++;
            }

            var bytes = Encoding.ASCII.GetBytes(sb.ToString());
            // Write in a few pieces so the agent sees partial lines now and then.
            int third = bytes.Length / 3;
            _stream.Write(bytes, 0, third);
            _stream.Flush();
            _stream.Write(bytes, third, bytes.Length - third);
            _stream.Flush();
        }

        // logrotate's default and 'postfix logrotate': rename, then the writer reopens a new file.
        public void RotateByRename(int n)
        {
            File.Move(_path, $"{_path}.{n + 1}");
            _stream.Dispose();
            _stream = Open();
        }

        // logrotate's copytruncate: copy, then truncate in place; the writer keeps its descriptor.
        public void RotateByCopyTruncate(int n)
        {
            File.Copy(_path, $"{_path}-c{n + 1}");
            _stream.SetLength(0);
        }

        private FileStream Open() => new(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);

        public void Dispose() => _stream.Dispose();
    }
}
