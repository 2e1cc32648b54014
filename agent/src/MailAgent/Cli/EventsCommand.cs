using System.Buffers;
using System.Text.Json;
using MailAgent.Correlation;
using MailAgent.Events;
using MailAgent.LogParsing;
using MailAgent.LogTailing;
using MailAgent.Pipeline;

namespace MailAgent.Cli;

/// <summary>
/// <c>mailagent events [--log FILE] [--follow] [--format json|text]</c>: the delivery events the
/// daemon would stream, from a local read of the mail log (same parser, correlator and privacy
/// settings), so it needs no client certificate and works while the daemon is down.
/// </summary>
internal static class EventsCommand
{
    public const string Usage = """
        mailagent events [--log FILE] [--follow] [--format json|text] [--config FILE] [Section:Key=value ...]

        Reads the mail log (LogTailing:Path, or --log FILE; plain or gzip) through the daemon's
        parser and correlator and prints one delivery event per recipient outcome, exactly as
        WatchEvents carries it: status (delivered, deferred, bounced, expired), Message-ID, queue
        ID, recipient domain, the recipient only with Events:IncludeRecipients (else an HMAC with
        Events:RecipientHashKey[File], or nothing), DSN, hard/soft and reason class, the reply with
        addresses masked, relay, delays, attempt number and the event key.
          --follow       after the end of the file, keep printing new events (poll every second)
                         until interrupted; a rotated file is not followed
          --format json  one JSON object per line (the default); text: one aligned line each
        Exit status: 0 on success, 2 on a usage error, 1 when the log cannot be read.
        """;

    /// <summary>Prints the events of <paramref name="log"/> (else LogTailing:Path) as <paramref name="format"/> (json or text).</summary>
    public static async Task<int> RunAsync(string format, string? log, bool follow, List<string> configArgs, CliContext context)
    {
        var config = Config.AgentConfiguration.Build(configArgs, out _, out var errors);
        var events = EventsOptions.Read(config, errors);
        var tail = new TailOptions();
        config.GetSection(TailOptions.SectionName).Bind(tail);
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            return 2;
        }

        string path = log ?? tail.Path;
        var printer = new Printer(new DeliveryEventFactory(events,
            EventKeySecret.TryRead(tail.StateDirectory) ?? System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), context, format);
        var processor = LogProcessor.Create(context.Time.GetUtcNow(), maxMessages: 2_000_000, maxAge: TimeSpan.FromDays(30), printer);
        var splitter = new LineSplitter();
        try
        {
            await using var input = ReplayCommand.Open(path, context, out var gzip);
            splitter.ReadAvailable(input, processor);
            await printer.FlushAsync();
            if (gzip?.Problem() is { } problem)
            {
                await context.Error.WriteLineAsync($"events: {path}: {problem}");
                return 1;
            }

            while (follow)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), context.Time);
                splitter.ReadAvailable(input, processor);
                await printer.FlushAsync();
            }

            splitter.Flush(processor);
            await printer.FlushAsync();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            await context.Error.WriteLineAsync($"events: cannot read '{path}': {e.Message}");
            return 1;
        }

        return 0;
    }

    private sealed class Printer(DeliveryEventFactory factory, CliContext context, string format) : ILineObserver
    {
        private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new(1 << 17);

        public bool WantsMessageIds => true;

        public void Observe(ref ParsedLine line, in CorrelationResult correlation)
        {
            if (factory.Create(ref line, in correlation) is not { } d)
                return;
            if (format == "text")
            {
                var text = $"{d.LoggedAt:yyyy-MM-ddTHH:mm:ssZ} {DeliveryDetails.Name(d.Status),-9} {d.QueueId,-12} <{d.MessageId}> "
                    + $"{(d.Recipient.Length > 0 ? d.Recipient : d.RecipientDomain)} dsn={d.Dsn} {DeliveryDetails.Name(d.Severity)}/{DeliveryDetails.Name(d.Reason)} "
                    + $"attempt={d.Attempt} delay={d.Delay} relay={d.Relay} ({d.Reply})\n";
                _buffer.Write(System.Text.Encoding.UTF8.GetBytes(text).AsSpan());
            }
            else
            {
                using (var w = new Utf8JsonWriter(_buffer))
                    DeliveryJson.Write(w, d);
                _buffer.Write("\n"u8);
            }

            if (_buffer.WrittenCount > 1 << 16)
                Drain();
        }

        public async Task FlushAsync()
        {
            await context.Out.FlushAsync();
            Drain();
            await context.OutStream.FlushAsync();
        }

        private void Drain()
        {
            context.OutStream.Write(_buffer.WrittenSpan);
            _buffer.ResetWrittenCount();
        }
    }
}
