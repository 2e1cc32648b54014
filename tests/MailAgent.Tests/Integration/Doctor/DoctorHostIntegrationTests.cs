using MailAgent.Doctor;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Doctor;

/// <summary>
/// The host items against the real things: Debian's fail2ban configuration files and a private
/// fail2ban server on its own socket; the firewall from 'nft list ruleset' of a real ruleset loaded
/// into a private network namespace (unshare -n), so the host's own firewall is never touched.
/// </summary>
public sealed class DoctorHostIntegrationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-doctor-host-").FullName;
    private readonly HostCommands _commands = new(TimeSpan.FromSeconds(30));
    private string Conf => Path.Combine(_dir, "fail2ban");
    private string Socket => Path.Combine(_dir, "f2b.sock");
    private bool _serverStarted;

    public Task InitializeAsync()
    {
        // Debian's real configuration, with the jails of this host's own jail.d left out.
        CopyDirectory("/etc/fail2ban", Conf);
        foreach (string f in Directory.EnumerateFiles(Path.Combine(Conf, "jail.d")))
            File.Delete(f);
        File.WriteAllText(Path.Combine(_dir, "mail.log"), "");
        File.WriteAllText(Path.Combine(Conf, "fail2ban.local"), $"""
            [Definition]
            logtarget = {Path.Combine(_dir, "fail2ban.log")}
            dbfile = :memory:
            socket = {Socket}
            pidfile = {Path.Combine(_dir, "f2b.pid")}
            """);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_serverStarted)
            await _commands.RunAsync("fail2ban-client", ["-c", Conf, "-s", Socket, "stop"], CancellationToken.None);
        Directory.Delete(_dir, recursive: true);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.EnumerateFiles(from))
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (string d in Directory.EnumerateDirectories(from))
            CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }

    private void EnablePostfixSasl() =>
        File.WriteAllText(Path.Combine(Conf, "jail.d", "postfix-sasl.local"), $"""
            [DEFAULT]
            banaction = dummy
            [postfix-sasl]
            enabled = true
            backend = polling
            logpath = {Path.Combine(_dir, "mail.log")}
            """);

    private async Task StartServerAsync()
    {
        var start = await _commands.RunAsync("fail2ban-client", ["-c", Conf, "-s", Socket, "-p", Path.Combine(_dir, "f2b.pid"), "start"], CancellationToken.None);
        _serverStarted = true;
        Assert.True(start.ExitCode == 0, $"fail2ban did not start: {start.Output}");
    }

    private async Task<DoctorItem> ItemAsync(string id, DoctorOptions options)
    {
        var items = await new HostDoctor(options, _commands).RunAsync(CancellationToken.None);
        var item = items.Single(i => i.Id == id);
        output.WriteLine($"{item.Status}: {item.Why}\n  {string.Join("\n  ", item.Evidence)}");
        return item;
    }

    private DoctorOptions Options => new() { Fail2banDirectory = Conf, Fail2banSocket = Socket, FirewallRulesFile = Path.Combine(_dir, "ruleset.txt"), DiskPath = _dir };

    [Fact]
    public async Task Fail2ban_PostfixSaslJailEnabledAndServerRunning_Pass()
    {
        EnablePostfixSasl();
        await StartServerAsync();

        var item = await ItemAsync("host.fail2ban", Options);

        Assert.Equal(DoctorStatus.Pass, item.Status);
        Assert.Equal("jail postfix-sasl is enabled and running", item.Why);
    }

    [Fact]
    public async Task Fail2ban_DebianDefaultsWithoutPostfixJail_Fail()
    {
        var item = await ItemAsync("host.fail2ban", Options);

        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.StartsWith("no enabled jail watches Postfix SASL logins", item.Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fail2ban_JailConfiguredButServerNotRunning_Fail()
    {
        EnablePostfixSasl();

        var item = await ItemAsync("host.fail2ban", Options);

        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.Contains("the fail2ban server does not answer", item.Why, StringComparison.Ordinal);
    }

    /// <summary>Loads <paramref name="ruleset"/> with nft into a new network namespace and keeps what 'nft list ruleset' prints there.</summary>
    private async Task ListRulesetAsync(string ruleset)
    {
        string file = Path.Combine(_dir, "rules.nft");
        await File.WriteAllTextAsync(file, ruleset);
        var listed = await _commands.RunAsync("unshare", ["--net", "sh", "-c", $"nft -f {file} && nft list ruleset"], CancellationToken.None);
        Assert.True(listed.ExitCode == 0, $"nft in a private namespace failed: {listed.Output}");
        await File.WriteAllTextAsync(Options.FirewallRulesFile, listed.Output);
    }

    [Fact]
    public async Task Firewall_DropPolicyAcceptingMailPorts_Pass()
    {
        await ListRulesetAsync("""
            table inet filter {
              chain input {
                type filter hook input priority 0; policy drop;
                ct state established,related accept
                iif lo accept
                tcp dport 22 accept
                tcp dport { 25, 465, 587 } accept
              }
            }
            """);

        var item = await ItemAsync("host.firewall", Options);

        Assert.Equal(DoctorStatus.Pass, item.Status);
    }

    [Fact]
    public async Task Firewall_DropPolicyWithout587_FailNamingThePort()
    {
        await ListRulesetAsync("""
            table inet filter {
              chain input {
                type filter hook input priority 0; policy drop;
                tcp dport { 22, 25, 465 } accept
              }
            }
            """);

        var item = await ItemAsync("host.firewall", Options);

        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.EndsWith("does not accept 587", item.Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Firewall_NoRuleset_Fail()
    {
        await ListRulesetAsync("");

        var item = await ItemAsync("host.firewall", Options);

        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.StartsWith("no firewall drops unsolicited traffic", item.Why, StringComparison.Ordinal);
    }
}
