using System.Text.Json;

namespace MailAgent.Tests.Cli;

/// <summary><c>mailagent apply-config</c>: argument handling, exit status and the audit line of a local caller.</summary>
public sealed class ApplyConfigCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mailagent-apply-cli-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public async Task ApplyConfig_NoFile_UsageExit2()
    {
        var (exitCode, _, stderr) = await ReplayRunner.RunAsync("apply-config", "--dry-run");

        Assert.Equal(2, exitCode);
        Assert.Contains("name the FILE", stderr, StringComparison.Ordinal);
        Assert.Contains("EXIT STATUS", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApplyConfig_OffListName_RejectedExit1AuditedAsLocal()
    {
        string etc = Path.Combine(_dir.FullName, "etc");
        Directory.CreateDirectory(etc);
        string mainCf = Path.Combine(etc, "main.cf");
        await File.WriteAllTextAsync(mainCf, "relayhost = [relay.example]:587\n");
        byte[] before = await File.ReadAllBytesAsync(mainCf);
        string change = Path.Combine(_dir.FullName, "change.cf");
        await File.WriteAllTextAsync(change, "# open the relay\nmynetworks = 0.0.0.0/0\n-relayhost\n");
        string audit = Path.Combine(_dir.FullName, "audit.log");

        var (exitCode, stdout, _) = await ReplayRunner.RunAsync("apply-config", change, $"Postfix:ConfigDirectory={etc}",
            $"ConfigApply:AuditLogPath={audit}", $"LogTailing:StateDirectory={Path.Combine(_dir.FullName, "state")}");

        Assert.Equal(1, exitCode);
        Assert.Contains("result: rejected", stdout, StringComparison.Ordinal);
        Assert.Contains("mynetworks is not on the allow-list", stdout, StringComparison.Ordinal);
        Assert.Contains($"config_hash: {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(before))}", stdout, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(mainCf));
        var line = JsonDocument.Parse(Assert.Single(await File.ReadAllLinesAsync(audit))).RootElement;
        Assert.StartsWith("local:", line.GetProperty("who").GetString(), StringComparison.Ordinal);
        Assert.Equal(["relayhost"], line.GetProperty("request").GetProperty("remove").EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData("file")]
    [InlineData("-")]
    public async Task ApplyConfig_InvalidUtf8_RefusedExit2MainCfUntouched(string source)
    {
        string etc = Path.Combine(_dir.FullName, "etc");
        Directory.CreateDirectory(etc);
        string mainCf = Path.Combine(etc, "main.cf");
        await File.WriteAllTextAsync(mainCf, "smtpd_banner = $myhostname ESMTP\n");
        byte[] before = await File.ReadAllBytesAsync(mainCf);
        // "smtpd_banner = caf\xE9 ESMTP": Latin-1, not UTF-8.
        byte[] change = [.. "smtpd_banner = caf"u8, 0xE9, .. " ESMTP\n"u8];
        string file = Path.Combine(_dir.FullName, "change.cf");
        await File.WriteAllBytesAsync(file, change);
        string[] settings = [$"Postfix:ConfigDirectory={etc}", $"ConfigApply:AuditLogPath={Path.Combine(_dir.FullName, "audit.log")}", $"LogTailing:StateDirectory={Path.Combine(_dir.FullName, "state")}"];

        var (exitCode, stdout, stderr) = source == "-"
            ? await ReplayRunner.RunWithInputAsync(change, ["apply-config", "-", .. settings])
            : await ReplayRunner.RunAsync(["apply-config", file, .. settings]);

        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.Contains("not valid UTF-8 (byte offset 18); nothing was changed", stderr, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(mainCf));
        Assert.False(File.Exists(Path.Combine(_dir.FullName, "audit.log")));
    }
}
