using MailAgent.Postfix;

namespace MailAgent.Health.Checks;

/// <summary>
/// The Postfix master daemon runs: <c>postfix status</c> as root; as any other user (the packaged
/// service user) the master's public/showq socket is asked directly, since <c>postfix status</c> is for
/// root only and would fork a failing shell script every <see cref="HealthOptions.Interval"/>.
/// </summary>
internal sealed class PostfixRunningCheck(IPostfixCommands postfix) : IHealthCheck
{
    public string Name => "postfix";

    public bool IsSlow => false;

    public async Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        if (!postfix.RunsAsRoot)
            return await ProbeAsNonRootAsync(cancellationToken);
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

    /// <summary>
    /// 'postfix status' is for root only (as another user it exits 1 and, its stderr not being a
    /// terminal, prints the reason only to the mail log): the master's public/showq socket answers instead.
    /// </summary>
    private async Task<HealthCheckResult> ProbeAsNonRootAsync(CancellationToken cancellationToken)
    {
        var probe = await postfix.ProbeMasterAsync(cancellationToken);
        const string statusSaid = "asked directly: postfix status is for root only";
        return probe.Running switch
        {
            true => HealthCheckResult.Healthy($"the Postfix master daemon answers: {probe.Detail} ({statusSaid})"),
            false => HealthCheckResult.Unhealthy($"the Postfix mail system is not running: {probe.Detail} ({statusSaid})"),
            _ => HealthCheckResult.Unhealthy(
                $"cannot tell whether Postfix runs: {probe.Detail} ({statusSaid}). Fix: the agent's user needs group postdrop (public/ is postfix:postdrop 0710; the package adds it) and to read Postfix's main.cf, or run the agent as root"),
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
