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
        Use '-' to read standard input. A .gz file must be one whole gzip member (as gzip and
        logrotate write it). Exit status: 0 on success, 2 on a usage error, 1 when a file cannot be
        read or its gzip data is truncated or corrupt (the message gives the lines read so far).
        """;

    /// <summary>Reads <paramref name="files"/> and prints them as <paramref name="format"/> (json, prometheus or summary).</summary>
    public static async Task<int> RunAsync(string format, string? probeSource, IReadOnlyList<string> files, CliContext context)
    {
        var summary = new ReplaySummary();
        var processor = LogProcessor.Create(context.Time.GetUtcNow(), maxMessages: 2_000_000, maxAge: TimeSpan.FromDays(30), summary,
            probeSource: probeSource);
        var splitter = new LineSplitter();
        foreach (var file in files)
        {
            try
            {
                await using var input = Open(file, context, out var gzip);
                splitter.ReadAvailable(input, processor);
                splitter.Flush(processor);
                if (gzip?.Problem() is { } problem)
                    throw new InvalidDataException(problem);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                await context.Error.WriteLineAsync(
                    $"replay: cannot read '{file}': {e.Message} ({processor.Stats.Summary[(int)SummaryField.Lines]} lines read so far; nothing printed)");
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

    internal static Stream Open(string path, CliContext context, out GzipTrailerCheck? gzip)
    {
        gzip = null;
        Stream raw = path == "-" ? context.InStream : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        var buffered = new BufferedStream(raw, 1 << 16);
        Span<byte> magic = stackalloc byte[2];
        // Peek at the gzip magic without consuming it.
        bool compressed;
        if (raw.CanSeek)
        {
            int n = raw.Read(magic);
            raw.Seek(0, SeekOrigin.Begin);
            compressed = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        }
        else
            compressed = path.EndsWith(".gz", StringComparison.Ordinal);

        if (!compressed)
            return raw.CanSeek ? raw : buffered;
        gzip = new GzipTrailerCheck(raw.CanSeek ? raw : buffered);
        return gzip;
    }
}

/// <summary>
/// GZipStream ends quietly when the compressed data stops short. The gzip trailer's last field is
/// the uncompressed size (mod 2^32); comparing it with what was decompressed tells a whole file
/// from a truncated one. So a file must be one gzip member, as gzip and logrotate write it;
/// members joined with <c>cat a.gz b.gz</c> are reported too (replay them as separate files).
/// </summary>
internal sealed class GzipTrailerCheck : Stream
{
    private readonly TailStream _compressed;
    private readonly GZipStream _gzip;

    public GzipTrailerCheck(Stream compressed)
    {
        _compressed = new TailStream(compressed);
        _gzip = new GZipStream(_compressed, CompressionMode.Decompress);
    }

    /// <summary>Decompressed bytes read so far.</summary>
    public long Total { get; private set; }

    /// <summary>Why the gzip data is not whole, or null; call after reading to the end.</summary>
    public string? Problem()
    {
        if (_compressed.Total < 18)
            return $"truncated gzip data: only {_compressed.Total} bytes, less than a gzip header and trailer";
        uint size = BitConverter.ToUInt32(_compressed.Last8.AsSpan(4));
        if (size == (uint)Total)
            return null;
        return $"truncated or corrupt gzip data: the trailer says {size} bytes, {Total} were decompressed";
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = _gzip.Read(buffer);
        Total += n;
        return n;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => Total; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _gzip.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Passes reads through, keeping the total and the last 8 bytes (the gzip trailer: CRC32, ISIZE).</summary>
    private sealed class TailStream(Stream inner) : Stream
    {
        public byte[] Last8 { get; } = new byte[8];
        public long Total { get; private set; }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            if (n >= 8)
                buffer.Slice(n - 8, 8).CopyTo(Last8);
            else if (n > 0)
            {
                Last8.AsSpan(n).CopyTo(Last8);
                buffer[..n].CopyTo(Last8.AsSpan(8 - n));
            }

            Total += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Total; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
