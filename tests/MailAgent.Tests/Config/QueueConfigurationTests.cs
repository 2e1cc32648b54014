using MailAgent.Config;

namespace MailAgent.Tests.Config;

/// <summary>Queue settings: a bad one stops start-up with a message naming the key, the value and what is valid.</summary>
public sealed class QueueConfigurationTests
{
    [Fact]
    public void Validate_Defaults_NoErrorsAndDocumentedValues()
    {
        var errors = Validate(out var queue);

        Assert.Empty(errors);
        Assert.True(queue.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(30), queue.Interval);
        Assert.Equal(TimeSpan.FromSeconds(20), queue.Timeout);
        Assert.Equal(10, queue.TopDomains);
        Assert.Equal([60.0, 300, 900, 1800, 3600, 14400, 43200, 86400, 172800, 259200, 432000], queue.AgeBucketBounds());
    }

    [Theory]
    [InlineData("Queue:Interval=00:00:00.500", "Queue:Interval = 00:00:00.5000000 is not valid: use 00:00:01 to 01:00:00")]
    [InlineData("Queue:Timeout=00:00:45", "Queue:Timeout = 00:00:45 is longer than Queue:Interval = 00:00:30")]
    [InlineData("Queue:Timeout=00:00:00", "Queue:Timeout = 00:00:00 is not valid: use 00:00:00.1000000 to 00:10:00")]
    [InlineData("Postfix:PostqueuePath=", "Postfix:PostqueuePath is empty")]
    [InlineData("Postfix:ConfigDirectory=etc/postfix", "Postfix:ConfigDirectory = 'etc/postfix' is not valid: use an absolute path")]
    [InlineData("Postfix:ConfigDirectory=/nonexistent/postfix-out", "Postfix:ConfigDirectory = '/nonexistent/postfix-out' does not exist")]
    [InlineData("Postfix:Directory=/etc/postfix", "Postfix takes ConfigDirectory")]
    [InlineData("Queue:TopDomains=101", "Queue:TopDomains = 101 is not valid: use 0 to 100")]
    [InlineData("Queue:AgeBuckets=60,30", "Queue:AgeBuckets = '60,30' is not valid: 30 does not exceed 60: bounds must increase")]
    [InlineData("Queue:AgeBuckets=1m", "Queue:AgeBuckets = '1m' is not valid: '1m' is not a positive number of seconds")]
    [InlineData("Queue:AgeBuckets=", "Queue:AgeBuckets = '' is not valid: give 1 to 30 bucket bounds")]
    [InlineData("Queue:Interval=often", "'Queue:Interval'")]
    [InlineData("Queue:Intervall=00:01:00", "Queue takes Enabled (true|false), Interval and Timeout")]
    public void Validate_BadValue_MessageNamesKeyValueAndWhatIsValid(string setting, string expected)
    {
        var errors = Validate(out _, setting);

        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_LongTimeoutWithLongerInterval_Accepted()
    {
        var errors = Validate(out var queue, "Queue:Timeout=00:05:00", "Queue:Interval=00:10:00", "Postfix:ConfigDirectory=/tmp", "Queue:Enabled=false");

        Assert.Empty(errors);
        Assert.False(queue.Enabled);
    }

    [Fact]
    public void Build_SameKeyTwice_LastValueWins()
    {
        // Used to throw from the in-memory provider and abort the process.
        var config = AgentConfiguration.Build(["Postfix:PostqueuePath=/usr/sbin/postqueue", "postfix:postqueuepath=/opt/postfix/postqueue"], out _, out var errors);
        errors.AddRange(AgentConfiguration.Validate(config, out var settings));

        Assert.Empty(errors);
        Assert.Equal("/opt/postfix/postqueue", settings.Postfix.PostqueuePath);
    }

    private static List<string> Validate(out MailAgent.Queue.QueueOptions queue, params string[] settings)
    {
        var config = AgentConfiguration.Build(settings, out _, out var errors);
        errors.AddRange(AgentConfiguration.Validate(config, out var agentSettings));
        queue = agentSettings.Queue;
        return errors;
    }
}
