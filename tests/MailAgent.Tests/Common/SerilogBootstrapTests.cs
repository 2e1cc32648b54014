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
}
