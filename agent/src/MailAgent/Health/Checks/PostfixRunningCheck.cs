using System.ComponentModel;

namespace MailAgent.Health.Checks;

/// <summary>The Postfix master daemon runs (<c>postfix status</c>).</summary>
internal sealed class PostfixRunningCheck(IPostfixCommands postfix) : IHealthCheck
{
    public string Name => "postfix";

    public bool IsSlow => false;

    public async Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        CommandOutcome outcome;
        try
        {
            outcome = await postfix.StatusAsync(cancellationToken);
        }
        catch (Win32Exception e)
        {
            return HealthCheckResult.Unhealthy($"cannot run postfix: {e.Message}");
        }

        string said = FirstLine(outcome.Output);
        return outcome.ExitCode == 0
            ? HealthCheckResult.Healthy(said.Length > 0 ? said : "the Postfix mail system is running")
            : HealthCheckResult.Unhealthy($"the Postfix mail system is not running (postfix status exited {outcome.ExitCode}{(said.Length > 0 ? ": " + said : "")})");
    }

    private static string FirstLine(string text)
    {
        int nl = text.IndexOf('\n', StringComparison.Ordinal);
        string line = (nl < 0 ? text : text[..nl]).Trim();
        // postfix-script prefixes its messages with "postfix/postfix-script: ".
        int colon = line.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && line[..colon].Contains('/', StringComparison.Ordinal) ? line[(colon + 2)..] : line;
    }
}
