using Microsoft.Extensions.Logging;
using Serilog.Extensions.Logging;

namespace MailAgent.Tests.Common;

public sealed class SerilogBootstrapTests
{
    [Fact]
    public void Create_MessageWithEventId_FileLinePrintsTheId()
    {
        string dir = Directory.CreateTempSubdirectory("serilog-").FullName;
        try
        {
            string path = Path.Combine(dir, "agent.log");
            using (var serilog = SerilogBootstrap.Create("Information", path, retainedDays: 1))
            using (var factory = new SerilogLoggerFactory(serilog))
            {
                var logger = factory.CreateLogger("MailAgent.Test");
                logger.Log(LogLevel.Warning, new EventId(4321, "Demo"), "disk at {Percent}%", 97);
                logger.LogInformation("no event ID here");
            }

            var lines = Directory.GetFiles(dir).SelectMany(File.ReadAllLines).ToList();
            Assert.Contains(lines, l => l.Contains(" WRN 4321 [MailAgent.Test] disk at 97%", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains(" INF 0 [MailAgent.Test] no event ID here", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SinkErrorReporter_RepeatedFailures_FirstAtOnceThenOneAnHourWithTheCountNotShown()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 15, 0, 0, TimeSpan.Zero));
        var output = new StringWriter();
        var reporter = new SerilogBootstrap.SinkErrorReporter(output, time);

        reporter.Report("2026-12-06T15:00:00Z Caught exception while emitting to sink: Access to the path '/var/log/mailagent/agent20261206.log' is denied.\n");
        for (int i = 0; i < 100; i++)
        {
            time.Advance(TimeSpan.FromSeconds(30));
            reporter.Report("again");
        }

        var first = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(first);
        Assert.Contains("the log file sink failed; lines still go to standard output", first[0], StringComparison.Ordinal);
        Assert.EndsWith("Access to the path '/var/log/mailagent/agent20261206.log' is denied.", first[0], StringComparison.Ordinal);

        // 50 minutes have passed; the next failure after the hour is shown with the count of the ones that were not.
        time.Advance(TimeSpan.FromMinutes(11));
        reporter.Report("still denied");
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("(100 more since 15:00:00 UTC not shown): still denied", lines[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("warning", 14, 0)]
    [InlineData("Loud", 14, 1)]
    [InlineData("Information", 0, 1)]
    [InlineData("Chatty", 4000, 2)]
    public void Validate_LevelAndRetention_OneLinePerBadKeyNamingTheSection(string level, int retainedDays, int expected)
    {
        var errors = new List<string>();

        SerilogBootstrap.Validate("AgentLog", level, retainedDays, errors);

        Assert.Equal(expected, errors.Count);
        Assert.All(errors, e => Assert.StartsWith("AgentLog:", e, StringComparison.Ordinal));
    }
}
