using MailAgent.Postfix;

namespace MailAgent.Config;

/// <summary>
/// The log to follow when LogTailing:Path is not set: Postfix's own <c>maillog_file</c> when it has one
/// (postlogd writes it), else syslog's <c>/var/log/mail.log</c>.
/// </summary>
internal static class LogPathDefault
{
    public const string SyslogMailLog = "/var/log/mail.log";

    /// <summary>The path, and a note on where it came from (for check-config and the start-up log).</summary>
    public static async Task<(string Path, string Source)> ResolveAsync(IPostfixCommands postfix, CancellationToken cancellationToken)
    {
        var run = await postfix.PostconfAsync(["-h", "-x", "maillog_file"], cancellationToken);
        if (!run.Succeeded)
            return (SyslogMailLog, $"default; postconf maillog_file failed: {run.Output}");
        string value = run.StandardOutput.Trim();
        return value.Length == 0
            ? (SyslogMailLog, "default; Postfix's maillog_file is empty, so syslog's mail log")
            : (value, "Postfix's maillog_file");
    }
}
