using System.Diagnostics;
using System.Net.Sockets;

namespace MailAgent.Tests.Hosting;

/// <summary>
/// <c>check-config</c> run as an unprivileged user (nobody, via setpriv, as <c>runuser -u mailagent --</c> would)
/// against temporary files of various modes: each thing <c>run</c> will need is checked, with its fix.
/// The Postfix programs are <c>/bin/true</c> unless a test is about them.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CheckConfigAsServiceUserTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("mailagent-checkconfig-").FullName;
    private readonly string _state;
    private readonly string _log;
    private readonly string _config;

    public CheckConfigAsServiceUserTests()
    {
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);
        _state = Directory.CreateDirectory(Path.Combine(_root, "state")).FullName;
        Run("chown", "nobody:nogroup", _state);
        _log = Path.Combine(_root, "mail.log");
        File.WriteAllText(_log, "Dec  6 02:00:00 host postfix/master[1]: daemon started\n");
        File.SetUnixFileMode(_log, (UnixFileMode)0b110_100_100);
        // Its own file: an installed package's /etc/mailagent/agent.json is not readable by nobody.
        _config = Path.Combine(_root, "agent.json");
        File.WriteAllText(_config, "{}\n");
        File.SetUnixFileMode(_config, (UnixFileMode)0b110_100_100);
    }

    [Fact]
    public async Task CheckConfig_EverythingReadableAndWritable_ExitsZeroWithoutFindings()
    {
        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log");

        Assert.True(exit == 0, output);
        Assert.Contains("service user checks OK", output, StringComparison.Ordinal);
        Assert.Contains("checked as uid 65534", output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_state, ".check-config-*"));
    }

    [Fact]
    public async Task CheckConfig_LogMode0600Root_ErrorNamingModeAndAdmFix()
    {
        File.SetUnixFileMode(_log, (UnixFileMode)0b110_000_000);

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log");

        Assert.True(exit == 1, output);
        Assert.Contains($"error: log {_log}: cannot open for reading: permission denied (mode 0600", output, StringComparison.Ordinal);
        Assert.Contains("usermod -aG adm mailagent", output, StringComparison.Ordinal);
        Assert.Contains("maillog_file_permissions", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_LogMissing_WarningOnlyExitsZero()
    {
        File.Delete(_log);

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log");

        Assert.True(exit == 0, output);
        Assert.Contains($"warning: log {_log}: does not exist yet", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_StateDirectoryOwnedByRoot_ErrorWithChownFix()
    {
        Run("chown", "root:root", _state);
        File.SetUnixFileMode(_state, (UnixFileMode)0b111_101_101);

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log");

        Assert.True(exit == 1, output);
        Assert.Contains($"error: state directory {_state}: cannot create a file in it (mode 0755", output, StringComparison.Ordinal);
        Assert.Contains($"chown mailagent: {_state}", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_StateEntriesLeftByRoot_ErrorListingThemWithChownFix()
    {
        // What 'mailagent run' as root leaves in a state directory the service user owns.
        string certificates = Directory.CreateDirectory(Path.Combine(_state, "certificates")).FullName;
        File.WriteAllText(Path.Combine(certificates, ".lock"), "");
        File.WriteAllText(Path.Combine(_state, "events.journal"), "");
        File.SetUnixFileMode(Path.Combine(_state, "events.journal"), (UnixFileMode)0b110_100_100);
        // The service user's own read-only file is not another user's: it is replaced by renaming.
        string own = Path.Combine(_state, "event-key.secret");
        File.WriteAllText(own, "k");
        Run("chown", "nobody:nogroup", own);
        File.SetUnixFileMode(own, (UnixFileMode)0b100_000_000);

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log");

        Assert.True(exit == 1, output);
        Assert.Contains($"error: state directory {_state}: 3 entries in it this process (uid 65534", output, StringComparison.Ordinal);
        Assert.Contains("certificates (mode 0755)", output, StringComparison.Ordinal);
        Assert.Contains("events.journal (mode 0644)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("event-key.secret", output, StringComparison.Ordinal);
        Assert.Contains($"chown -R mailagent: {_state}", output, StringComparison.Ordinal);

        Run("chown", "-R", "nobody:nogroup", _state);
        (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log");
        Assert.True(exit == 0, output);
        Assert.Contains("service user checks OK", output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(certificates, ".check-config-*"));
    }

    [Fact]
    public async Task CheckConfig_AgentLogFileLeftByRoot_WarningWithChownFixThenOkOnceOwned()
    {
        string logs = Directory.CreateDirectory(Path.Combine(_root, "logs")).FullName;
        Run("chown", "nobody:nogroup", logs);
        // An earlier 'mailagent run' as root wrote today's file (Serilog's daily name: the date before the extension).
        string today = Path.Combine(logs, $"agent{DateTime.Now:yyyyMMdd}.log");
        File.WriteAllText(today, "2026-12-06T03:00:00Z INF 5000 [MailAgent] as root\n");
        File.SetUnixFileMode(today, (UnixFileMode)0b110_100_000);
        string setting = $"AgentLog:FilePath={Path.Combine(logs, "agent.log")}";

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log", setting);

        Assert.True(exit == 0, output);
        Assert.Contains($"warning: agent log {today}: cannot open for writing: permission denied (mode 0640", output, StringComparison.Ordinal);
        Assert.Contains("run would log to the journal only", output, StringComparison.Ordinal);
        Assert.Contains($"chown -R mailagent: {logs}", output, StringComparison.Ordinal);

        Run("chown", "nobody:nogroup", today);
        (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log", setting);
        Assert.True(exit == 0, output);
        Assert.Contains("service user checks OK", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_AgentLogDirectoryOwnedByRoot_WarningNamingTheDirectory()
    {
        string logs = Directory.CreateDirectory(Path.Combine(_root, "logs")).FullName;
        File.SetUnixFileMode(logs, (UnixFileMode)0b111_101_101);

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log", $"AgentLog:FilePath={Path.Combine(logs, "agent.log")}");

        Assert.True(exit == 0, output);
        Assert.Contains($"warning: agent log {logs}: cannot create today's log file in it: permission denied (mode 0755", output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(logs));
    }

    [Fact]
    public async Task CheckConfig_LetsEncryptKeyMode0600_WarningWithSslCertAclAndDeployHookFixes()
    {
        string cert = Path.Combine(_root, "fullchain.pem");
        string key = Path.Combine(_root, "privkey.pem");
        File.WriteAllText(cert, "-----BEGIN CERTIFICATE-----\n");
        File.WriteAllText(key, "-----BEGIN PRIVATE KEY-----\n");
        File.SetUnixFileMode(cert, (UnixFileMode)0b110_100_100);
        File.SetUnixFileMode(key, (UnixFileMode)0b110_000_000);

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log;tls", "Certificates:Hostname=mail.example.org", $"Certificates:CertificateFile={cert}", $"Certificates:KeyFile={key}");

        Assert.True(exit == 0, output);
        Assert.Contains($"warning: TLS file {key}: cannot open for reading: permission denied (mode 0600", output, StringComparison.Ordinal);
        Assert.DoesNotContain($"TLS file {cert}", output, StringComparison.Ordinal);
        Assert.Contains("ssl-cert", output, StringComparison.Ordinal);
        Assert.Contains("setfacl -m u:mailagent:r", output, StringComparison.Ordinal);
        Assert.Contains("deploy hook", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_MilterSocketMode0600AndMissingSocket_WarningsWithGroupAndStartFixes()
    {
        string path = Path.Combine(_root, "opendkim.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        File.SetUnixFileMode(path, (UnixFileMode)0b110_000_000);
        string missing = Path.Combine(_root, "gone.sock");

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log;milter", $"Health:MilterAddress=local:{path},unix:{missing}");

        Assert.True(exit == 0, output);
        Assert.Contains($"warning: milter local:{path}: cannot connect", output, StringComparison.Ordinal);
        Assert.Contains("AccessDenied", output, StringComparison.Ordinal);
        Assert.Contains("usermod -aG opendkim mailagent", output, StringComparison.Ordinal);
        Assert.Contains($"warning: milter unix:{missing}: cannot connect", output, StringComparison.Ordinal);
        Assert.Contains("systemctl start opendkim", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_MilterSocketReachable_NoMilterFinding()
    {
        string path = Path.Combine(_root, "opendkim.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log;milter", $"Health:MilterAddress=unix:{path}");

        Assert.True(exit == 0, output);
        Assert.Contains("service user checks OK", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_PostqueueDeniedAndPostfixAlternateConfig_WarningsWithClassStderrAndFix()
    {
        string postqueue = Script("postqueue", "echo 'postqueue: fatal: open /etc/postfix/main.cf: Permission denied' >&2; exit 1");
        string postfixProgram = Script("postfix", "echo 'postfix: fatal: do not specify alternate configuration directory /srv/pf: it is not listed in alternate_config_directories' >&2; exit 1");

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log;postfix", $"Postfix:PostqueuePath={postqueue}", $"Postfix:PostfixPath={postfixProgram}");

        Assert.True(exit == 0, output);
        Assert.Contains("warning: postqueue -j: permission (exit 1): postqueue: fatal: open /etc/postfix/main.cf: Permission denied", output, StringComparison.Ordinal);
        Assert.Contains("usermod -aG postdrop mailagent", output, StringComparison.Ordinal);
        Assert.Contains("warning: postfix status: alternate config directory (exit 1)", output, StringComparison.Ordinal);
        Assert.Contains("postconf -e alternate_config_directories=", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_PostfixNotRunning_NoFindingAboutThisUser()
    {
        string postfixProgram = Script("postfix", "echo 'postfix/postfix-script: the Postfix mail system is not running' >&2; exit 1");

        var (exit, output) = await CheckConfigAsNobodyAsync("Health:Checks=log;postfix", $"Postfix:PostfixPath={postfixProgram}");

        Assert.True(exit == 0, output);
        Assert.Contains("service user checks OK", output, StringComparison.Ordinal);
    }

    private string Script(string name, string body)
    {
        string path = Path.Combine(_root, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    private async Task<(int Exit, string Output)> CheckConfigAsNobodyAsync(params string[] settings)
    {
        var info = new ProcessStartInfo("/usr/bin/setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var a in (string[])["--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "dotnet", Path.Combine(AppContext.BaseDirectory, "mailagent.dll"), "check-config",
                 "--config", _config, $"LogTailing:Path={_log}", $"LogTailing:StateDirectory={_state}", "AgentLog:FilePath=",
                 "Postfix:PostconfPath=/bin/true", "Postfix:PostfixPath=/bin/true", "Postfix:PostqueuePath=/bin/true"])
            info.ArgumentList.Add(a);
        foreach (var s in settings)
            info.ArgumentList.Add(s);
        info.Environment["HOME"] = "/nonexistent";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout + await stderr);
    }

    private static void Run(string program, params string[] args)
    {
        using var p = Process.Start(program, args);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
