using System.Globalization;
using System.IO.Compression;
using System.Text;
using MailAgent.Metrics;
using MailAgent.Tests.Integration.Agent;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.LogTailing;

/// <summary>
/// The real daemon follows a real Postfix log (the corpus) while it is written, rotated 100 times
/// (rename, copytruncate and rename-plus-compress, logrotate's numbered names), killed with SIGKILL
/// 10 times at random points and rotated twice while stopped. The agent's line digest (a hash per
/// counted line, kept in step with the checkpoint) must list every written line exactly once —
/// lost and duplicated lines are checked separately — and every log-derived series, histograms
/// included, must equal what the daemon counts reading the same lines in one file without a restart.
/// The seed is printed; set TORTURE_SEED to repeat a run. A seed repeats the rotations and kill rounds but
/// not the timing, so a failure is explained by what TORTURE_KEEP=DIR keeps (TORTURE_DEBUG=1 logs every read).
/// </summary>
public sealed class TortureTests(ITestOutputHelper output) : IDisposable
{
    private const int Rounds = 110;
    private const int Rotations = 100;
    private const int Kills = 10;
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-torture-").FullName;
    private readonly List<string> _outputs = [];

    [Fact]
    public async Task Daemon_RotationsKillsAndRotationsWhileStopped_CountsEveryLineOnceAndEqualsReplay()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("TORTURE_SEED"), CultureInfo.InvariantCulture, out int s) ? s : Random.Shared.Next();
        output.WriteLine($"TORTURE_SEED={seed}");
        var rng = new Random(seed);
        var lines = TestData.ReadLines("real-postfix-3.7.log.gz").ToArray();
        string log = Path.Combine(_dir, "live", "mail.log");
        string digest = Path.Combine(_dir, "digest.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        string[] settings = Settings(log, Path.Combine(_dir, "state"), digest);

        // Which rounds kill the agent, which of those rotates twice while it is down, which kinds rotate.
        // Each round rotates once until the rotations run out, and the round that rotates twice while stopped
        // needs two of them left: it must come before round Rotations - 1 (a later one found the queue empty).
        int stoppedRound = rng.Next(1, Rotations - 1);
        var killRounds = Enumerable.Range(1, Rounds - 2).Where(r => r != stoppedRound).OrderBy(_ => rng.Next()).Take(Kills - 1).Append(stoppedRound).ToHashSet();
        string[] kindsList = ["rename", "copytruncate", "rename+compress"];
        var kinds = new Queue<string>(Enumerable.Range(0, Rotations).Select(i => kindsList[i % 3]).OrderBy(_ => rng.Next()));
        output.WriteLine($"kills in rounds {string.Join(',', killRounds.Order())}; two rotations while stopped in round {stoppedRound}");

        var writer = new LogWriter(log, lines);
        var agent = await AgentProcess.StartAsync(settings);
        int kills = 0, rotations = 0;
        try
        {
            int perRound = lines.Length / (Rounds + 1);
            for (int round = 0; round < Rounds; round++)
            {
                writer.Append(perRound / 2);
                if (killRounds.Contains(round))
                {
                    bool rotateWhileStopped = round == stoppedRound;
                    if (rotateWhileStopped)
                        await CaughtUpAsync(agent, writer); // a file never read from cannot be told from its copy
                    else
                        await Task.Delay(rng.Next(0, 300)); // anywhere: mid-read, mid-checkpoint, mid-drain
                    await agent.KillAsync();
                    await agent.DisposeAsync();
                    _outputs.Add(agent.Output);
                    kills++;
                    writer.Append(perRound / 4); // written while the agent is down
                    if (rotateWhileStopped)
                    {
                        writer.Rotate(kinds.Dequeue());
                        writer.Append(perRound / 8);
                        writer.Rotate(kinds.Dequeue());
                        rotations += 2;
                    }

                    agent = await AgentProcess.StartAsync(settings);
                }

                writer.Append(perRound / 8);
                if (kinds.Count > 0 && round != stoppedRound)
                {
                    // The agent has read the batch but not the few lines written just before the
                    // rotation: those must come from the renamed file or the copy.
                    await CaughtUpAsync(agent, writer);
                    writer.Append(rng.Next(1, 40));
                    double before = AgentProcess.Value(await agent.ScrapeAsync(), "mailagent_log_rotations_total");
                    writer.Rotate(kinds.Dequeue());
                    rotations++;
                    // logrotate does not rotate twice within milliseconds: let the agent notice this one.
                    var current = agent;
                    await Eventually.UntilAsync(
                        async _ => AgentProcess.Value(await current.ScrapeAsync(), "mailagent_log_rotations_total"),
                        v => v > before,
                        TimeSpan.FromSeconds(30),
                        v => $"rotation not noticed (counter {v})\n{Tail(current.Output)}");
                }
            }

            writer.Append(lines.Length - writer.Written);
            Assert.Equal(Kills, kills);
            Assert.Equal(Rotations, rotations);
            Assert.Equal(lines.Length, writer.Written);

            await CaughtUpAsync(agent, writer);
            await Eventually.UntilAsync(
                _ => Task.FromResult(ReadDigest(digest).Count),
                n => n >= lines.Length,
                TimeSpan.FromSeconds(30),
                n => $"digest lists {n} of {lines.Length} lines");
            var live = await agent.ScrapeAsync();

            // Every line exactly once, by content: lost and duplicated apart.
            var expected = Counts(lines.Select(l => Fnv(Encoding.UTF8.GetBytes(l))));
            var seen = Counts(ReadDigest(digest));
            long lost = expected.Sum(e => (long)Math.Max(0, e.Value - seen.GetValueOrDefault(e.Key)));
            long duplicated = seen.Sum(e => (long)Math.Max(0, e.Value - expected.GetValueOrDefault(e.Key)));
            output.WriteLine($"{lines.Length} lines, {rotations} rotations, {kills} kills: lost {lost}, duplicated {duplicated}");
            Assert.True(lost == 0, $"seed {seed}: {lost} lines lost\n{Tail(agent.Output)}");
            Assert.True(duplicated == 0, $"seed {seed}: {duplicated} lines counted twice\n{Tail(agent.Output)}");
            Assert.Equal(Rotations, AgentProcess.Value(live, "mailagent_log_rotations_total"));

            // The same lines in one file, read once: every log-derived series must match.
            await agent.DisposeAsync();
            string replayLog = Path.Combine(_dir, "replay", "mail.log");
            Directory.CreateDirectory(Path.GetDirectoryName(replayLog)!);
            await File.WriteAllLinesAsync(replayLog, lines);
            agent = await AgentProcess.StartAsync(Settings(replayLog, Path.Combine(_dir, "replay-state"), ""));
            var replayAgent = agent;
            var replay = await Eventually.UntilAsync(
                async _ => await replayAgent.ScrapeAsync(),
                m => AgentProcess.Value(m, "mailagent_log_lines_total") >= lines.Length,
                TimeSpan.FromSeconds(60),
                m => $"replay counted {AgentProcess.Value(m, "mailagent_log_lines_total")} of {lines.Length}");
            // mailagent_log_lines_total moves when a line is taken, before its other counts: read until two agree.
            string next;
            while (!LogSeries(next = await replayAgent.ScrapeAsync()).SequenceEqual(LogSeries(replay)))
                replay = next;
            var want = LogSeries(replay);
            var got = LogSeries(live);
            Assert.True(want.Count > 100, "the replay exposes the log-derived series");
            Assert.Contains(want, l => l.StartsWith("postfix_message_latency_seconds_bucket", StringComparison.Ordinal));
            var missing = want.Except(got).ToList();
            var extra = got.Except(want).ToList();
            Assert.True(missing.Count == 0 && extra.Count == 0,
                $"seed {seed}: series differ from replay\nreplay has:\n{string.Join('\n', missing.Take(40))}\nlive has:\n{string.Join('\n', extra.Take(40))}");
        }
        finally
        {
            await agent.DisposeAsync();
            writer.Dispose();
            KeepEvidence(seed, agent);
        }
    }

    // TORTURE_KEEP=DIR keeps what a failure needs explaining: the last agent's output (with TORTURE_DEBUG=1, every read's
    // file, inode and byte range), the state directory and the digest, in DIR/seed-N.
    private void KeepEvidence(int seed, AgentProcess last)
    {
        string? keep = Environment.GetEnvironmentVariable("TORTURE_KEEP");
        if (string.IsNullOrEmpty(keep))
            return;
        string target = Path.Combine(keep, $"seed-{seed}");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "agent-last.out"), last.Output);
        for (int i = 0; i < _outputs.Count; i++)
            File.WriteAllText(Path.Combine(target, $"agent-{i}.out"), _outputs[i]);
        foreach (string file in Directory.EnumerateFiles(_dir, "*", SearchOption.AllDirectories))
        {
            if (file.Contains("/live/", StringComparison.Ordinal) || file.Contains("/replay/", StringComparison.Ordinal))
                continue;
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(_dir, file).Replace('/', '_')), overwrite: true);
        }
    }

    private static string[] Settings(string log, string state, string digest) =>
    [
        .. Environment.GetEnvironmentVariable("TORTURE_DEBUG") == "1" ? new[] { "AgentLog:Level=Debug" } : [],
        $"LogTailing:Path={log}",
        $"LogTailing:StateDirectory={state}",
        "LogTailing:StartAt=Beginning",
        "LogTailing:PollInterval=00:00:00.200",
        "LogTailing:CheckpointInterval=00:00:00.100",
        "LogTailing:RotatedFileGrace=00:00:01",
        $"LogTailing:LineDigestFile={digest}",
    ];

    private static string Tail(string text) => text[^Math.Min(text.Length, 20000)..];

    private static async Task CaughtUpAsync(AgentProcess agent, LogWriter writer) =>
        await Eventually.UntilAsync(
            async _ => AgentProcess.Value(await agent.ScrapeAsync(), "mailagent_log_lines_total"),
            n => n >= writer.Written,
            TimeSpan.FromSeconds(60),
            n => $"agent counted {n} of {writer.Written} lines\n{Tail(agent.Output)}");

    // The series LogStats produces (counters and histograms), as exposition lines.
    private static List<string> LogSeries(string metrics)
    {
        var stats = new LogStats();
        var names = stats.Counters.Select(c => c.Name).Concat(stats.Histograms.Select(h => h.Name)).ToHashSet();
        return metrics.Split('\n')
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Where(l =>
            {
                int end = l.IndexOfAny(['{', ' ']);
                string name = end < 0 ? l : l[..end];
                return names.Contains(name) || names.Contains(StripSuffix(name));
            })
            .Select(RoundSum)
            .ToList();
    }

    // Counts and buckets must be equal. A _sum adds the same doubles, but a restart between two
    // rotations can read the tail of a renamed file and the new live file in another order than one
    // uninterrupted read, and double addition is not associative: compare sums to 12 significant digits.
    private static string RoundSum(string line)
    {
        int space = line.LastIndexOf(' ');
        string name = line[..Math.Max(0, line.IndexOfAny(['{', ' ']))];
        if (!name.EndsWith("_sum", StringComparison.Ordinal) || space < 0
            || !double.TryParse(line[(space + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value))
            return line;
        return line[..space] + " " + value.ToString("G12", System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string StripSuffix(string name)
    {
        foreach (string suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal))
                return name[..^suffix.Length];
        }

        return name;
    }

    private static List<ulong> ReadDigest(string path)
    {
        if (!File.Exists(path))
            return [];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var hashes = new List<ulong>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 16)
                hashes.Add(ulong.Parse(line, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        }

        return hashes;
    }

    private static Dictionary<ulong, int> Counts(IEnumerable<ulong> hashes)
    {
        var counts = new Dictionary<ulong, int>();
        foreach (var h in hashes)
            counts[h] = counts.GetValueOrDefault(h) + 1;
        return counts;
    }

    private static ulong Fnv(ReadOnlySpan<byte> data)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in data)
            h = (h ^ b) * 1099511628211UL;
        return h;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Appends the corpus lines the way postlogd does, and rotates the way logrotate does.</summary>
    private sealed class LogWriter : IDisposable
    {
        private readonly string _path;
        private readonly string[] _lines;
        private FileStream _stream;

        public LogWriter(string path, string[] lines)
        {
            _path = path;
            _lines = lines;
            _stream = Open();
        }

        public int Written { get; private set; }

        public void Append(int count)
        {
            count = Math.Min(count, _lines.Length - Written);
            if (count <= 0)
                return;
            var sb = new StringBuilder();
            for (int i = 0; i < count; i++)
                sb.Append(_lines[Written + i]).Append('\n');
            Written += count;
            var bytes = Encoding.UTF8.GetBytes(sb.ToString());
            // In pieces, so the agent sees partial lines now and then.
            int third = bytes.Length / 3;
            _stream.Write(bytes, 0, third);
            _stream.Flush();
            _stream.Write(bytes, third, bytes.Length - third);
            _stream.Flush();
        }

        public void Rotate(string kind)
        {
            Shift();
            switch (kind)
            {
                case "rename":
                    File.Move(_path, _path + ".1");
                    Reopen();
                    break;
                case "rename+compress":
                    File.Move(_path, _path + ".1");
                    Reopen();
                    Gzip(_path + ".1");
                    break;
                case "copytruncate":
                    File.Copy(_path, _path + ".1");
                    _stream.SetLength(0);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind));
            }
        }

        // logrotate's numbered scheme with a large 'rotate': .1 → .2, …, keeping .gz where compressed.
        private void Shift()
        {
            for (int i = 200; i >= 1; i--)
            {
                foreach (string ext in new[] { "", ".gz" })
                {
                    if (File.Exists($"{_path}.{i}{ext}"))
                        File.Move($"{_path}.{i}{ext}", $"{_path}.{i + 1}{ext}");
                }
            }
        }

        private static void Gzip(string path)
        {
            using (var input = File.OpenRead(path))
            using (var output = new GZipStream(File.Create(path + ".gz"), CompressionLevel.Fastest))
                input.CopyTo(output);
            File.Delete(path);
        }

        private void Reopen()
        {
            _stream.Dispose();
            _stream = Open();
        }

        private FileStream Open() => new(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);

        public void Dispose() => _stream.Dispose();
    }
}
