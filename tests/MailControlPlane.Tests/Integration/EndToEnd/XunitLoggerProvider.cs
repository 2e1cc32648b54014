using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace MailControlPlane.Tests.Integration.EndToEnd;

/// <summary>The in-process control plane's log lines in the test output (Information and above).</summary>
internal sealed class XunitLoggerProvider(ITestOutputHelper output) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(output, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(ITestOutputHelper output, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information
            && !(category.StartsWith("Microsoft", StringComparison.Ordinal) && logLevel < LogLevel.Warning);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            try
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception == null ? "" : " " + exception.Message)}");
            }
            catch (InvalidOperationException)
            {
                // The test has ended.
            }
        }
    }
}
