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
