using System.Net.Sockets;
using MailAgent.Certificates;
using MailAgent.Health;
using MailAgent.Health.Checks;
using MailAgent.LogTailing;
using MailAgent.Postfix;

namespace MailAgent.Hosting;

/// <summary>How bad a <see cref="ServiceUserFinding"/> is: an error means <c>run</c> cannot do its job.</summary>
internal enum FindingSeverity
{
    Warning,
    Error,
}

/// <summary>One thing <c>run</c> will need that this user cannot do, and how to fix it.</summary>
internal sealed record ServiceUserFinding(FindingSeverity Severity, string Subject, string Problem, string Fix)
{
    public override string ToString() =>
        $"{(Severity == FindingSeverity.Error ? "error" : "warning")}: {Subject}: {Problem}\n  fix: {Fix}";
}

/// <summary>
/// What <c>check-config</c> checks as the user it runs as (run it as the service user:
/// <c>runuser -u mailagent -- mailagent check-config</c>): the log opens for reading, the state
/// directory takes a file, the TLS files open, the milters accept a connection and the Postfix
/// programs the agent runs are permitted. Errors are what makes <c>run</c> useless (no log, no
/// checkpoint); the rest would show as unhealthy checks and are warnings.
/// </summary>
internal sealed class ServiceUserChecks(
    TailOptions tail, HealthOptions health, CertificateOptions certificates, IPostfixCommands control, TimeProvider time, string agentLogPath = "")
{
    /// <summary>The time limit of each Postfix program check-config runs (give it to the <see cref="IPostfixCommands"/>).</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    public async Task<IReadOnlyList<ServiceUserFinding>> RunAsync(CancellationToken cancellationToken)
    {
        var findings = new List<ServiceUserFinding>();
        CheckLog(findings);
        CheckStateDirectory(findings);
        CheckAgentLog(findings, time.GetLocalNow().DateTime);
        await CheckPostfixAsync(findings, cancellationToken);
        await CheckTlsFilesAsync(findings, cancellationToken);
        await CheckMiltersAsync(findings, cancellationToken);
        return findings;
    }

    internal void CheckLog(List<ServiceUserFinding> findings)
    {
        string path = tail.Path;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (UnauthorizedAccessException)
        {
            findings.Add(new(FindingSeverity.Error, "log " + path,
                $"cannot open for reading: permission denied ({FileAccessAdvice.Mode(path)}, this process {FileAccessAdvice.Identity()})",
                "make it readable by group adm and put the agent's user in it (usermod -aG adm mailagent; Postfix: postconf -e maillog_file_permissions=0640), or set LogTailing:Path"));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            findings.Add(new(FindingSeverity.Warning, "log " + path,
                "does not exist yet (run reports the log check degraded, then unhealthy)",
                "check LogTailing:Path or Postfix's maillog_file; on a stock host rsyslog or 'postfix start' creates /var/log/mail.log"));
        }
        catch (IOException e)
        {
            findings.Add(new(FindingSeverity.Error, "log " + path, "cannot open for reading: " + e.Message, "check LogTailing:Path"));
        }
    }

    internal void CheckStateDirectory(List<ServiceUserFinding> findings)
    {
        string directory = tail.StateDirectory;
        try
        {
            Directory.CreateDirectory(directory);
            CreateFileIn(directory);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            string mode = Directory.Exists(directory) ? FileAccessAdvice.Mode(directory) : "it does not exist and cannot be created";
            findings.Add(new(FindingSeverity.Error, "state directory " + directory,
                $"cannot create a file in it ({mode}, this process {FileAccessAdvice.Identity()}): {e.Message}; the checkpoint cannot be written",
                $"chown mailagent: {directory} (the package's StateDirectory=mailagent does this under systemd), or set LogTailing:StateDirectory"));
            return;
        }

        var denied = UnwritableEntries(directory);
        if (denied.Count > 0)
        {
            findings.Add(new(FindingSeverity.Error, "state directory " + directory,
                $"{denied.Count} entr{(denied.Count == 1 ? "y" : "ies")} in it this process ({FileAccessAdvice.Identity()}) cannot write, left by a run as another user (root?): "
                + string.Join(", ", denied.Take(3).Select(d => $"{Path.GetRelativePath(directory, d)} ({FileAccessAdvice.Mode(d)})")) + (denied.Count > 3 ? ", …" : "")
                + "; the certificate watcher, the event journal and the checkpoint write there",
                $"chown -R mailagent: {directory} (systemd's StateDirectory= only does this when the directory itself has another owner)"));
        }
    }

    /// <summary>Creates and deletes a file of its own in <paramref name="directory"/>: throws what run would meet there.</summary>
    private static void CreateFileIn(string directory)
    {
        string probe = Path.Combine(directory, $".check-config-{Environment.ProcessId}");
        using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
        }

        File.Delete(probe);
    }

    /// <summary>
    /// Below <paramref name="directory"/> (at most 10,000 entries looked at): the directories this process cannot create a file in,
    /// and the files whose owner may write them but this process may not (another user's). Files the agent keeps read-only
    /// are replaced by renaming, which needs only the directory.
    /// </summary>
    private static List<string> UnwritableEntries(string directory)
    {
        var denied = new List<string>();
        // A directory that cannot be listed is not entered; its own probe below reports it.
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos("*", options).Take(10_000))
        {
            try
            {
                if (entry is DirectoryInfo)
                {
                    CreateFileIn(entry.FullName);
                }
                else if (OperatingSystem.IsWindows() || (File.GetUnixFileMode(entry.FullName) & UnixFileMode.UserWrite) != 0)
                {
                    using var open = new FileStream(entry.FullName, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                }
            }
            catch (UnauthorizedAccessException)
            {
                denied.Add(entry.FullName);
            }
            catch (IOException)
            {
                // Gone meanwhile, or a socket or FIFO: not a question of ownership.
            }
        }

        return denied;
    }

    /// <summary>
    /// The agent's own log: the file Serilog writes today (AgentLog:FilePath with the local date before the extension, as its
    /// daily roll names it) must open for appending, or be creatable in its directory. A file left by an earlier run as
    /// root cannot be opened by the service user, and the file sink would only say so on standard error.
    /// </summary>
    internal void CheckAgentLog(List<ServiceUserFinding> findings, DateTime localNow)
    {
        if (string.IsNullOrWhiteSpace(agentLogPath))
            return;
        string directory = Path.GetDirectoryName(Path.GetFullPath(agentLogPath)) ?? ".";
        string today = Path.Combine(directory, Path.GetFileNameWithoutExtension(agentLogPath) + localNow.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture) + Path.GetExtension(agentLogPath));
        string fix = $"chown -R mailagent: {directory} (files an earlier run as root left behind), or set AgentLog:FilePath (empty: the journal only)";
        try
        {
            if (File.Exists(today))
            {
                using var append = new FileStream(today, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                return;
            }

            Directory.CreateDirectory(directory);
            CreateFileIn(directory);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            bool exists = File.Exists(today);
            string what = exists ? today : directory;
            string mode = exists || Directory.Exists(directory) ? FileAccessAdvice.Mode(what) : "it does not exist and cannot be created";
            findings.Add(new(FindingSeverity.Warning, "agent log " + what,
                (exists ? "cannot open for writing" : "cannot create today's log file in it")
                + $": {(e is UnauthorizedAccessException ? "permission denied" : e.Message)} ({mode}, this process {FileAccessAdvice.Identity()}); run would log to the journal only",
                fix));
        }
    }

    internal async Task CheckPostfixAsync(List<ServiceUserFinding> findings, CancellationToken cancellationToken)
    {
        var postconf = await control.PostconfAsync(["-h", "mail_version"], cancellationToken);
        if (!postconf.Succeeded)
            findings.Add(Postfix("postconf -h mail_version", postconf));
        if (Has("postfix"))
        {
            var status = await control.PostfixAsync(["status"], cancellationToken);
            // Not running is a fact about Postfix, not about this user: the postfix check reports it.
            // As another user than root 'postfix status' is always refused (the postfix command is for the
            // superuser; it says so only in the mail log when stderr is not a terminal): the postfix check
            // then asks the master's public/showq socket, which postqueue -j below needs as well.
            var failure = status.Failure;
            bool rootOnly = !control.RunsAsRoot
                && (failure == PostfixFailure.Other || status.Output.Contains("reserved for the superuser", StringComparison.Ordinal));
            if (!status.Succeeded && failure != PostfixFailure.NotRunning && !rootOnly)
                findings.Add(Postfix("postfix status", status));
        }

        var queue = await control.ListQueueAsync(null, cancellationToken);
        if (!queue.Succeeded)
            findings.Add(Postfix("postqueue -j", queue));
    }

    private bool Has(string check) =>
        health.Checks.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Contains(check, StringComparer.OrdinalIgnoreCase);

    private static ServiceUserFinding Postfix(string command, PostfixResult run)
    {
        string output = run.Output.ReplaceLineEndings(" ").Trim();
        var (cls, fix) = run.Failure switch
        {
            PostfixFailure.NotInstalled => ("cannot run", "install Postfix, or set Postfix:PostfixPath, Postfix:PostconfPath, Postfix:PostqueuePath"),
            PostfixFailure.AlternateConfigDirectory => ("alternate config directory",
                "list Postfix:ConfigDirectory in alternate_config_directories of the default instance's main.cf (postconf -e alternate_config_directories=DIR)"),
            PostfixFailure.Permission => ("permission",
                "the agent's user must read Postfix's configuration and, for postqueue, be in group postdrop (usermod -aG postdrop mailagent)"),
            _ => ("failed", "run the same command as the agent's user to see Postfix's reason (runuser -u mailagent -- " + command + ")"),
        };
        return new(FindingSeverity.Warning, command, $"{cls} (exit {run.ExitCode}){(output.Length > 0 ? ": " + output : "")}", fix);
    }

    internal async Task CheckTlsFilesAsync(List<ServiceUserFinding> findings, CancellationToken cancellationToken)
    {
        if (!Has("tls"))
            return;
        var (location, problem) = await new CertificateLocator(certificates, control).LocateAsync(cancellationToken);
        if (location == null)
        {
            if (problem != CertificateLocator.NotConfigured)
                findings.Add(new(FindingSeverity.Warning, "TLS files", problem ?? "not found", "set Certificates:CertificateFile and Certificates:KeyFile"));
            return;
        }

        foreach (var file in location.AllFiles)
        {
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            }
            catch (UnauthorizedAccessException)
            {
                findings.Add(new(FindingSeverity.Warning, "TLS file " + file,
                    $"cannot open for reading: permission denied ({FileAccessAdvice.Mode(file)}, this process {FileAccessAdvice.Identity()}; the tls check would be unhealthy)",
                    "Let's Encrypt keys are 0600 root: give group ssl-cert read access and add the user (chgrp ssl-cert FILE && chmod 0640 FILE; usermod -aG ssl-cert mailagent), "
                    + "or an ACL (setfacl -m u:mailagent:r FILE and on the archive/ and live/ directories), or copy the files from a certbot deploy hook to a place the agent can read"));
            }
            catch (IOException e)
            {
                findings.Add(new(FindingSeverity.Warning, "TLS file " + file, "cannot open for reading: " + e.Message,
                    $"check {location.Source}"));
            }
        }
    }

    internal async Task CheckMiltersAsync(List<ServiceUserFinding> findings, CancellationToken cancellationToken)
    {
        if (!Has("milter"))
            return;
        string list = health.MilterAddress;
        string source = "Health:MilterAddress";
        if (string.IsNullOrWhiteSpace(list))
        {
            var run = await control.PostconfAsync(["-h", "-x", "smtpd_milters", "non_smtpd_milters"], cancellationToken);
            if (!run.Succeeded)
                return; // reported with the Postfix commands
            list = run.StandardOutput;
            source = "smtpd_milters/non_smtpd_milters";
        }

        foreach (var text in MilterAddress.SplitList(list).Distinct(StringComparer.Ordinal))
        {
            if (!MilterAddress.TryParse(text, out var address))
                continue;
            var endPoint = address.EndPoint(health.QueueDirectory);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(health.CheckTimeout);
            try
            {
                using var socket = address.IsUnix
                    ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                    : new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(endPoint, timeout.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                string why = e is SocketException s ? s.SocketErrorCode.ToString() : "timed out";
                string fix = e is SocketException { SocketErrorCode: SocketError.AccessDenied }
                    ? "put the agent's user in the socket's group (Debian: usermod -aG opendkim mailagent; OpenDKIM's UMask 007)"
                    : $"start the milter (systemctl start opendkim) or correct {source}";
                findings.Add(new(FindingSeverity.Warning, $"milter {address}", $"cannot connect ({endPoint}): {why}", fix));
            }
        }
    }
}
