using System.Text;
using System.Text.Json;

namespace MailAgent.Tests.Cli;

public sealed class ReplayCommandTests
{
    private static readonly string[] SmallLog =
    [
        "Nov 27 23:52:35 mail-oregon postfix/smtpd[28448]: connect from localhost[127.0.0.1]",
        "Nov 27 23:52:35 mail-oregon postfix/smtpd[28448]: 4FE0BDC995: client=localhost[127.0.0.1]",
        "Nov 27 23:52:35 mail-oregon postfix/cleanup[28453]: 4FE0BDC995: message-id=<6f1e.0003.0127@client.tazzi.com>",
        "Nov 27 23:52:35 mail-oregon opendkim[28309]: 4FE0BDC995: DKIM-Signature field added (s=mail, d=tazzi.com)",
        "Nov 27 23:52:35 mail-oregon postfix/qmgr[28412]: 4FE0BDC995: from=<alerts@tazzi.com>, size=2781, nrcpt=1 (queue active)",
        "Nov 27 23:52:36 mail-oregon postfix/smtp[28487]: 4FE0BDC995: to=<1user@defer.test>, relay=127.0.0.1[127.0.0.1]:2527, delay=0.7, delays=0.27/0.4/0.01/0.01, dsn=4.7.1, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.7.1 Greylisting in action (in reply to RCPT TO command))",
        "Nov 27 23:57:36 mail-oregon postfix/smtp[28487]: 4FE0BDC995: to=<1user@defer.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=301, delays=300/0.4/0.3/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
        "Nov 27 23:57:36 mail-oregon postfix/qmgr[28412]: 4FE0BDC995: removed",
        "Nov 27 23:57:37 mail-oregon postfix/smtpd[28448]: disconnect from localhost[127.0.0.1] helo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
        "Nov 27 23:57:38 mail-oregon dovecot: auth: client connected",
        "Nov 27 23:57:39 mail-oregon postfix/smtpd[28448]: something no rule knows",
    ];

    [Fact]
    public async Task Replay_StandardInput_SummarisesTheLines()
    {
        var input = Encoding.UTF8.GetBytes(string.Join('\n', SmallLog) + "\n");

        var (exitCode, stdout, stderr) = await ReplayRunner.RunWithInputAsync(input, "replay", "-", "--format", "json");

        Assert.Equal(0, exitCode);
        Assert.Equal("", stderr);
        using var doc = JsonDocument.Parse(stdout);
        var json = doc.RootElement;
        Assert.Equal(10, json.GetProperty("lines").GetInt64());
        Assert.Equal(1, json.GetProperty("other_lines").GetInt64());
        Assert.Equal(1, json.GetProperty("unparsed_lines").GetInt64());
        Assert.Equal(1, json.GetProperty("received").GetInt64());
        Assert.Equal(1, json.GetProperty("delivered").GetInt64());
        Assert.Equal(1, json.GetProperty("deferred").GetInt64());
        Assert.Equal(1, json.GetProperty("deferrals").GetInt64());
        Assert.Equal(2781, json.GetProperty("bytes_received").GetInt64());
        Assert.Equal(2781, json.GetProperty("bytes_delivered").GetInt64());
        Assert.Equal(1, json.GetProperty("dkim_signed").GetInt64());
        Assert.Equal(1, json.GetProperty("senders").GetInt64());
        Assert.Equal(1, json.GetProperty("recipients").GetInt64());
        Assert.Equal(4, json.GetProperty("by_program").GetProperty("postfix/smtpd").GetInt64());
    }

    [Fact]
    public async Task Replay_SummaryFormat_PrintsTheTotalsTable()
    {
        var input = Encoding.UTF8.GetBytes(string.Join('\n', SmallLog));

        var (exitCode, stdout, _) = await ReplayRunner.RunWithInputAsync(input, "replay", "-", "--format", "summary");

        Assert.Equal(0, exitCode);
        Assert.Contains("Grand totals", stdout, StringComparison.Ordinal);
        Assert.Matches(@"\n +2,781  bytes received\n", stdout);
    }

    [Theory]
    [InlineData("replay")]
    [InlineData("replay", "--format")]
    [InlineData("replay", "x.log", "--format", "xml")]
    [InlineData("replay", "x.log", "--bogus")]
    public async Task Replay_BadArguments_ExitsWithUsageError(params string[] args)
    {
        var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync(args);

        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.Contains("mailagent replay FILE...", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_WholeGzipFile_ReadsEveryLine()
    {
        string file = Path.Combine(Path.GetTempPath(), $"replay-{Guid.NewGuid():N}.log.gz");
        await File.WriteAllBytesAsync(file, Gzip(Many(2000)));
        try
        {
            var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync("replay", file);

            Assert.Equal(0, exitCode);
            Assert.Equal("", stderr);
            using var doc = JsonDocument.Parse(stdout);
            // As in Replay_StandardInput_SummarisesTheLines: 10 of the 11 lines are mail lines, per copy.
            Assert.Equal(2000 * 10, doc.RootElement.GetProperty("lines").GetInt64());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("file")]
    [InlineData("-")]
    public async Task Replay_TruncatedGzip_ExitsWithOneAndTheLinesReadSoFar(string source)
    {
        byte[] whole = Gzip(Many(2000));
        byte[] truncated = whole[..(whole.Length * 2 / 3)];
        string file = Path.Combine(Path.GetTempPath(), $"replay-{Guid.NewGuid():N}.log.gz");
        await File.WriteAllBytesAsync(file, truncated);
        try
        {
            var (exitCode, stdout, stderr) = source == "-"
                ? await ReplayRunner.RunWithInputAsync(truncated, "replay", "-")
                : await ReplayRunner.RunAsync("replay", file);

            Assert.Equal(1, exitCode);
            Assert.Equal("", stdout);
            Assert.Contains("truncated or corrupt gzip data", stderr, StringComparison.Ordinal);
            Assert.Matches(@"\(\d+ lines read so far; nothing printed\)", stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Replay_CorruptGzip_ExitsWithOneAndSaysSo()
    {
        byte[] data = Gzip(Many(2000));
        // Flip bytes in the middle of the deflate data.
        for (int i = data.Length / 2; i < data.Length / 2 + 64; i++)
            data[i] ^= 0x5A;
        string file = Path.Combine(Path.GetTempPath(), $"replay-{Guid.NewGuid():N}.log.gz");
        await File.WriteAllBytesAsync(file, data);
        try
        {
            var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync("replay", file);

            Assert.Equal(1, exitCode);
            Assert.Equal("", stdout);
            Assert.Contains("cannot read", stderr, StringComparison.Ordinal);
            Assert.Contains("lines read so far", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static byte[] Many(int copies) => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(string.Join('\n', SmallLog) + "\n", copies)));

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            gzip.Write(data);
        return output.ToArray();
    }

    [Fact]
    public async Task Replay_MissingFile_ExitsWithOne()
    {
        string missing = Path.Combine(TestData.Directory, "no-such-file.log");

        var (exitCode, _, stderr) = await ReplayRunner.RunAsync("replay", missing);

        Assert.Equal(1, exitCode);
        Assert.Contains("no-such-file.log", stderr, StringComparison.Ordinal);
    }

    [PromtoolFact]
    public async Task Replay_HostileLabelValues_PrometheusOutputPassesPromtool()
    {
        // Label values that come from the log (DKIM selector and domain) with quotes, backslashes,
        // braces, control characters and broken UTF-8, and more pairs than there are slots.
        var input = new MemoryStream();
        void Line(params byte[][] parts)
        {
            foreach (var part in parts)
                input.Write(part);
            input.WriteByte((byte)'\n');
        }

        var prefix = "Nov 27 23:52:35 mail opendkim[1]: 4FE0BDC995: DKIM-Signature field added (s="u8.ToArray();
        Line(prefix, "a\"b\\c, d=x{y}z=\"1\")"u8.ToArray());
        Line(prefix, [0xff, 0xfe, 0x01, 0x7f], ", d="u8.ToArray(), [0xc3, 0x28, 0x09], ")"u8.ToArray());
        Line(prefix, "\r, d=)"u8.ToArray());
        Line(prefix, ", d=)"u8.ToArray());
        for (int i = 0; i < 40; i++)
            Line(prefix, Encoding.ASCII.GetBytes($"sel{i}, d=example{i}.test)"));
        Line("Nov 27 23:52:35 mail postfix/smtpd[1]: 4FE0BDC995: client=x[192.0.2.1], sasl_method=\"\\\xff, sasl_username=u"u8.ToArray());
        Line("Nov 27 23:52:35 mail postfix/smtp[1]: Verified TLS connection established to x[192.0.2.1]:25: TLSv9\"\\ with cipher X"u8.ToArray());
        foreach (string line in TestData.ReadLines("public-fixture-lines.txt").Where(l => !l.StartsWith('#')))
            Line(Encoding.UTF8.GetBytes(line));

        var (exitCode, stdout, stderr) = await ReplayRunner.RunWithInputAsync(input.ToArray(), "replay", "-", "--format", "prometheus");
        var (promtoolExit, promtoolOutput) = await ReplayCorpusTests.PromtoolCheckAsync(stdout);

        Assert.Equal(0, exitCode);
        Assert.Equal("", stderr);
        Assert.True(promtoolExit == 0 && promtoolOutput.Length == 0, $"promtool check metrics exited {promtoolExit}:\n{promtoolOutput}");
        var series = ReplayCorpusTests.ParseExposition(stdout);
        Assert.True(series["opendkim_signatures_added_total{selector=\"other\",domain=\"other\"}"] > 0);
    }
}
