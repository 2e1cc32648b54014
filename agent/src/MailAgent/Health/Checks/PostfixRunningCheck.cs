using MailAgent.Postfix;

namespace MailAgent.Health.Checks;

/// <summary>The Postfix master daemon runs (<c>postfix status</c>).</summary>
internal sealed class PostfixRunningCheck(IPostfixCommands postfix) : IHealthCheck
{
    public string Name => "postfix";

    public bool IsSlow => false;

    public async Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        var outcome = await postfix.StatusAsync(cancellationToken);
        if (!outcome.Started)
            return HealthCheckResult.Unhealthy(outcome.StandardError);

        string said = FirstLine(outcome.Output);
        if (outcome.ExitCode == 0)
            return HealthCheckResult.Healthy(said.Length > 0 ? said : "the Postfix mail system is running");
        string output = outcome.Output.ReplaceLineEndings(" ").Trim();
        return outcome.Failure switch
        {
            PostfixFailure.AlternateConfigDirectory => HealthCheckResult.Unhealthy(
                $"postfix status failed (alternate config directory, exit {outcome.ExitCode}): {output}. Fix: list Postfix:ConfigDirectory in alternate_config_directories of the default instance's main.cf, or run the agent as root"),
            PostfixFailure.Permission => HealthCheckResult.Unhealthy(
                $"postfix status failed (permission, exit {outcome.ExitCode}): {output}. Fix: the agent's user needs to read Postfix's configuration and run postfix status (see check-config)"),
            PostfixFailure.NotRunning => HealthCheckResult.Unhealthy($"the Postfix mail system is not running (postfix status exited {outcome.ExitCode}: {said})"),
            _ => HealthCheckResult.Unhealthy($"postfix status failed (exit {outcome.ExitCode}){(output.Length > 0 ? ": " + output : "")}"),
        };
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
