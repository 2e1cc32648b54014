using System.Globalization;
using Serilog;
using Serilog.Core;
using Serilog.Debugging;
using Serilog.Events;

namespace MailAgent.Common;

/// <summary>
/// The daemons' own log: the console (journald adds the time again, so it stays short) and an
/// optional daily rolling file. Every line carries the event ID of its [LoggerMessage] (0 for
/// lines without one), so operators can look a line up in docs/operations.md.
/// </summary>
internal static class SerilogBootstrap
{
    public const string ConsoleTemplate = "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} {Level:u3} {EventNumber} {Message:lj}{NewLine}{Exception}";
    public const string FileTemplate = "{Timestamp:o} {Level:u3} {EventNumber} [{SourceContext}] {Message:lj}{NewLine}{Exception}";

    /// <summary>A logger at <paramref name="level"/> (Verbose … Fatal, already validated), writing to the console and, unless empty, to <paramref name="filePath"/>.</summary>
    public static Logger Create(string level, string? filePath, int retainedDays)
    {
        var config = new LoggerConfiguration()
            .MinimumLevel.Is(Enum.Parse<LogEventLevel>(level, ignoreCase: true))
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .MinimumLevel.Override("Grpc", LogEventLevel.Warning)
            .MinimumLevel.Override("System.Net.Http", LogEventLevel.Warning)
            .Enrich.With<EventNumberEnricher>()
            .WriteTo.Console(outputTemplate: ConsoleTemplate);
        if (!string.IsNullOrWhiteSpace(filePath))
        {
            config.WriteTo.File(filePath, rollingInterval: RollingInterval.Day, retainedFileCountLimit: retainedDays, outputTemplate: FileTemplate);
            // A sink that fails (its file owned by another user) would otherwise lose every line without a word.
            SelfLog.Enable(new SinkErrorReporter(Console.Error, TimeProvider.System).Report);
        }

        return config.CreateLogger();
    }

    /// <summary>Checks the log section both daemons share (<paramref name="section"/>:Level and :RetainedDays); one error line per bad key.</summary>
    public static void Validate(string section, string level, int retainedDays, List<string> errors)
    {
        if (!Enum.TryParse<LogEventLevel>(level, ignoreCase: true, out _))
            errors.Add($"{section}:Level = '{level}' is not valid: use Verbose, Debug, Information, Warning, Error or Fatal");
        if (retainedDays is < 1 or > 3650)
            errors.Add($"{section}:RetainedDays = {retainedDays} is not valid: use 1 to 3650");
    }

    /// <summary>Flattens Microsoft.Extensions.Logging's EventId structure into the number the templates print.</summary>
    internal sealed class EventNumberEnricher : ILogEventEnricher
    {
        public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
        {
            int id = 0;
            if (logEvent.Properties.TryGetValue("EventId", out var value) && value is StructureValue structure)
            {
                foreach (var property in structure.Properties)
                {
                    if (property.Name == "Id" && property.Value is ScalarValue { Value: int number })
                        id = number;
                }
            }

            logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty("EventNumber", id.ToString(CultureInfo.InvariantCulture)));
        }
    }

    /// <summary>
    /// Serilog's own failures (the log file cannot be opened: an earlier run as root left it owned by root) go to standard
    /// error, which systemd puts in the journal: the first at once, then at most one an hour with the number not shown.
    /// The file sink tries again at each line, so the file is written again once its owner is fixed.
    /// </summary>
    internal sealed class SinkErrorReporter(TextWriter output, TimeProvider time)
    {
        private static readonly TimeSpan Quiet = TimeSpan.FromHours(1);
        private readonly Lock _gate = new();
        private DateTimeOffset? _shown;
        private long _notShown;

        public void Report(string message)
        {
            lock (_gate)
            {
                var now = time.GetUtcNow();
                var shown = _shown;
                if (shown != null && now - shown < Quiet)
                {
                    _notShown++;
                    return;
                }

                string skipped = _notShown > 0 ? $" ({_notShown} more since {shown:HH:mm:ss} UTC not shown)" : "";
                _shown = now;
                _notShown = 0;
                output.WriteLine($"the log file sink failed; lines still go to standard output (the journal under systemd){skipped}: {message.Trim()}");
                output.Flush();
            }
        }
    }
}
