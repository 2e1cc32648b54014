using System.IO.Compression;
using MailAgent.LogTailing;
using MailAgent.Metrics;
using MailAgent.Pipeline;

namespace MailAgent.Cli;

/// <summary><c>mailagent replay FILE... [--format prometheus|json|summary]</c>: reads whole logs and prints what they add up to.</summary>
internal static class ReplayCommand
{
    public const string Usage = """
        mailagent replay FILE... [--format json|prometheus|summary] [--probe-source ADDRESS]

        Reads whole log files (plain or gzip-compressed, in the order given) through the same
        parser and correlator as the daemon, then prints:
          json        one JSON object with pflogsumm's totals (received, delivered, deferred,
                      bounced, rejected, bytes …) plus expired, dkim_signed, unparsed_lines and
                      lines per program (the default)
          prometheus  the metrics the daemon would expose after reading these files
          summary     the same totals as an aligned table for a person
        --probe-source ADDRESS leaves smtpd sessions from the agent's probe address (Health:ProbeSourceAddress,
        e.g. 127.0.0.2) out of the client counts, as the daemon does; by default every session counts.
        Use '-' to read standard input. Exit status: 0 on success, 2 on a usage error, 1 when a
        file cannot be read.
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliContext context)
    {
        string format = "json";
        string? probeSource = null;
        var files = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a is "--format" or "-f")
            {
                if (i + 1 >= args.Count)
                    return context.UsageError("replay: --format needs a value: json, prometheus or summary", Usage);
                format = args[++i];
            }
            else if (a == "--probe-source")
            {
                if (i + 1 >= args.Count || !System.Net.IPAddress.TryParse(args[i + 1], out _))
                    return context.UsageError("replay: --probe-source needs an IP address, e.g. 127.0.0.2", Usage);
                probeSource = args[++i];
            }
            else if (a.StartsWith("--format=", StringComparison.Ordinal))
                format = a["--format=".Length..];
            else if (a is "--help" or "-h")
            {
                await context.Out.WriteLineAsync(Usage);
                return 0;
            }
            else if (a.StartsWith('-') && a != "-")
                return context.UsageError($"replay: unknown option '{a}'", Usage);
            else
                files.Add(a);
        }

        if (format is not ("json" or "prometheus" or "summary"))
            return context.UsageError($"replay: --format '{format}' is not one of json, prometheus, summary", Usage);
        if (files.Count == 0)
            return context.UsageError("replay: name at least one log file", Usage);

        var summary = new ReplaySummary();
        var processor = LogProcessor.Create(context.Time.GetUtcNow(), maxMessages: 2_000_000, maxAge: TimeSpan.FromDays(30), summary,
            probeSource: probeSource);
        var splitter = new LineSplitter();
        foreach (var file in files)
        {
            try
            {
                await using var input = Open(file, context);
                splitter.ReadAvailable(input, processor);
                splitter.Flush(processor);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                await context.Error.WriteLineAsync($"replay: cannot read '{file}': {e.Message}");
                return 1;
            }
        }

        switch (format)
        {
            case "json":
                await context.Out.FlushAsync();
                summary.WriteJson(context.OutStream, processor.Stats);
                break;
            case "summary":
                summary.WriteTable(context.Out, processor.Stats);
                break;
            default:
                var registry = Prometheus.Metrics.NewCustomRegistry();
                _ = new LogMetricsExporter(registry, processor.Stats, () => processor.Correlator.Count);
                await context.Out.FlushAsync();
                await registry.CollectAndExportAsTextAsync(context.OutStream);
                break;
        }

        await context.Out.FlushAsync();
        return 0;
    }

    private static Stream Open(string path, CliContext context)
    {
        Stream raw = path == "-" ? context.InStream : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        var buffered = new BufferedStream(raw, 1 << 16);
        Span<byte> magic = stackalloc byte[2];
        // Peek at the gzip magic without consuming it.
        if (raw.CanSeek)
        {
            int n = raw.Read(magic);
            raw.Seek(0, SeekOrigin.Begin);
            if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
                return new GZipStream(raw, CompressionMode.Decompress);
            return raw;
        }

        return path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(buffered, CompressionMode.Decompress) : buffered;
    }
}
