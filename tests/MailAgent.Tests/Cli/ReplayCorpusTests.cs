using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace MailAgent.Tests.Cli;

/// <summary>Replays each corpus once (JSON and Prometheus output) and shares the output between tests.</summary>
public sealed class ReplayCorpusFixture
{
    private readonly Dictionary<string, Task<string>> _outputs = new(StringComparer.Ordinal);
    private readonly Lock _sync = new();

    internal static readonly Dictionary<string, Corpus> Corpora = new(StringComparer.Ordinal)
    {
        ["main"] = new(["real-postfix-3.7.log.gz", "opendkim-dovecot-mail.log.gz"], "pflogsumm-real-postfix-3.7.txt.gz", "line-counts-real-postfix-3.7.json"),
        ["syslog"] = new(["real-postfix-3.7-syslog.log.gz"], "pflogsumm-real-postfix-3.7-syslog.txt", "line-counts-real-postfix-3.7-syslog.json"),
    };

    internal Task<string> OutputAsync(string corpus, string format)
    {
        lock (_sync)
        {
            string key = corpus + "/" + format;
            if (!_outputs.TryGetValue(key, out var task))
            {
                task = RunAsync(Corpora[corpus], format);
                _outputs[key] = task;
            }

            return task;
        }
    }

    private static async Task<string> RunAsync(Corpus corpus, string format)
    {
        string[] args = ["replay", .. corpus.Files.Select(TestData.PathOf), "--format", format];
        var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync(args);
        Assert.True(exitCode == 0, $"replay exited {exitCode}: {stderr}");
        Assert.Equal("", stderr);
        return stdout;
    }

    internal sealed record Corpus(string[] Files, string Pflogsumm, string LineCounts);
}

public sealed class ReplayCorpusTests : IClassFixture<ReplayCorpusFixture>
{
    private readonly ReplayCorpusFixture _fixture;

    public ReplayCorpusTests(ReplayCorpusFixture fixture)
    {
        _fixture = fixture;
    }

    public static TheoryData<string> Corpora() => new(ReplayCorpusFixture.Corpora.Keys);

    [Theory]
    [MemberData(nameof(Corpora))]
    public async Task Replay_Corpus_MatchesPflogsummGrandTotals(string corpus)
    {
        var ours = await JsonAsync(corpus);
        var theirs = PflogsummGrandTotals.Parse(TestData.ReadText(ReplayCorpusFixture.Corpora[corpus].Pflogsumm));

        Assert.Equal(PflogsummGrandTotals.FieldNames.Order(), theirs.Keys.Order());
        var mismatches = PflogsummGrandTotals.Mismatches(ours, theirs);
        Assert.True(mismatches.Count == 0, string.Join('\n', mismatches));
    }

    [Theory]
    [MemberData(nameof(Corpora))]
    public async Task Replay_Corpus_MatchesExactLineCounts(string corpus)
    {
        var ours = await JsonAsync(corpus);
        using var counts = JsonDocument.Parse(TestData.ReadText(ReplayCorpusFixture.Corpora[corpus].LineCounts));
        var truth = counts.RootElement;

        Assert.Equal(truth.GetProperty("lines").GetInt64(), ours.GetProperty("lines").GetInt64());
        Assert.Equal(0, ours.GetProperty("unparsed_lines").GetInt64());
        Assert.Equal(truth.GetProperty("qmgr_expired_returned").GetInt64(), ours.GetProperty("expired").GetInt64());
        Assert.Equal(truth.GetProperty("dkim_signatures_added").GetInt64(), ours.GetProperty("dkim_signed").GetInt64());
        Assert.Equal(truth.GetProperty("sasl_auth_failures").GetInt64(), ours.GetProperty("sasl_auth_failures").GetInt64());
        Assert.Equal(truth.GetProperty("rejected_total").GetInt64(), ours.GetProperty("rejected").GetInt64());
        Assert.Equal(truth.GetProperty("connects").EnumerateObject().Sum(c => c.Value.GetInt64()), ours.GetProperty("smtpd_connects").GetInt64());

        var expectedRejects = truth.GetProperty("smtpd_noqueue_rejects_by_stage_code").EnumerateObject()
            .ToDictionary(r => r.Name.ToLowerInvariant(), r => r.Value.GetInt64(), StringComparer.Ordinal);
        // The corpus's cleanup rejects are all header_checks rejects, which log a DSN ("5.7.1")
        // but no SMTP reply code (corpus README).
        long cleanupRejects = truth.GetProperty("cleanup_rejects").GetInt64();
        if (cleanupRejects > 0)
            expectedRejects["header 5xx"] = cleanupRejects;
        var actualRejects = ours.GetProperty("rejects_by_stage_code").EnumerateObject()
            .ToDictionary(r => r.Name, r => r.Value.GetInt64(), StringComparer.Ordinal);
        Assert.Equal(expectedRejects.OrderBy(r => r.Key, StringComparer.Ordinal), actualRejects.OrderBy(r => r.Key, StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Corpora))]
    public async Task Replay_PrometheusFormat_MatchesTheLogAndItsLineCounts(string corpus)
    {
        // An oracle independent of the parser: status words on postfix/smtp delivery lines.
        long sent = 0, bounced = 0, deferred = 0;
        foreach (string file in ReplayCorpusFixture.Corpora[corpus].Files)
        {
            foreach (string line in TestData.ReadLines(file))
            {
                if (!line.Contains(" postfix/smtp[", StringComparison.Ordinal) || !line.Contains(": to=<", StringComparison.Ordinal))
                    continue;
                if (line.Contains(", status=sent ", StringComparison.Ordinal))
                    sent++;
                else if (line.Contains(", status=bounced ", StringComparison.Ordinal))
                    bounced++;
                else if (line.Contains(", status=deferred ", StringComparison.Ordinal))
                    deferred++;
            }
        }

        var series = ParseExposition(await _fixture.OutputAsync(corpus, "prometheus"));
        using var counts = JsonDocument.Parse(TestData.ReadText(ReplayCorpusFixture.Corpora[corpus].LineCounts));
        var truth = counts.RootElement;

        Assert.True(sent > 0);
        Assert.Equal(sent, series["postfix_delivery_status_total{service=\"smtp\",status=\"sent\"}"]);
        Assert.Equal(bounced, series["postfix_delivery_status_total{service=\"smtp\",status=\"bounced\"}"]);
        Assert.Equal(deferred, series["postfix_delivery_status_total{service=\"smtp\",status=\"deferred\"}"]);
        Assert.Equal(sent, series["postfix_smtp_messages_processed_total{status=\"sent\"}"]);
        Assert.Equal(truth.GetProperty("connects").EnumerateObject().Sum(c => c.Value.GetInt64()), series["postfix_smtpd_connects_total"]);
        Assert.Equal(truth.GetProperty("qmgr_expired_returned").GetInt64(), series["postfix_qmgr_messages_expired_total"]);
        Assert.Equal(truth.GetProperty("sasl_auth_failures").GetInt64(), series["postfix_smtpd_sasl_authentication_failures_total"]);
        Assert.Equal(truth.GetProperty("dkim_signatures_added").GetInt64(), series["opendkim_signatures_added_total{selector=\"mail\",domain=\"tazzi.com\"}"]);
        Assert.All(series.Where(s => s.Key.StartsWith("mailagent_log_lines_unparsed_total", StringComparison.Ordinal)), s => Assert.Equal(0, s.Value));
        // Every lifetime that ended was closed; what the correlator still follows is exactly the
        // mail still deferred when the log ends, and nothing had to be evicted.
        Assert.Equal(truth.GetProperty("original_messages_by_final_disposition").GetProperty("deferred_at_end_of_log").GetInt64(), series["mailagent_correlation_messages"]);
        Assert.All(series.Where(s => s.Key.StartsWith("mailagent_correlation_evictions_total", StringComparison.Ordinal)), s => Assert.Equal(0, s.Value));
    }

    [PromtoolFact]
    public async Task Replay_PrometheusFormat_PassesPromtoolCheckMetrics()
    {
        string exposition = await _fixture.OutputAsync("main", "prometheus");

        var (exitCode, output) = await PromtoolCheckAsync(exposition);

        Assert.True(exitCode == 0 && output.Length == 0, $"promtool check metrics exited {exitCode}:\n{output}");
    }

    private async Task<JsonElement> JsonAsync(string corpus)
    {
        string json = await _fixture.OutputAsync(corpus, "json");
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    internal static Dictionary<string, double> ParseExposition(string text)
    {
        var series = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            int sp = line.LastIndexOf(' ');
            series[line[..sp]] = double.Parse(line[(sp + 1)..], CultureInfo.InvariantCulture);
        }

        return series;
    }

    internal static async Task<(int ExitCode, string Output)> PromtoolCheckAsync(string exposition)
    {
        var start = new ProcessStartInfo(PromtoolFactAttribute.Path, ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, (await stdout) + (await stderr));
    }
}

/// <summary>A fact that needs promtool (Debian's <c>prometheus</c> package; <c>make deps</c> installs it).</summary>
public sealed class PromtoolFactAttribute : FactAttribute
{
    public const string Path = "/usr/bin/promtool";

    public PromtoolFactAttribute()
    {
        if (!File.Exists(Path))
            Skip = $"{Path} is not installed (make deps)";
    }
}
