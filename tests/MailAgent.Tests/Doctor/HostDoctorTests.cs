using MailAgent.Doctor;

namespace MailAgent.Tests.Doctor;

public sealed class HostDoctorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-doctor-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class NoCommands : IHostCommands
    {
        public Task<CommandOutcome> RunAsync(string executable, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
            Task.FromResult(new CommandOutcome(127, $"{executable}: not here"));
    }

    private static async Task<DoctorItem> ItemAsync(string id, DoctorOptions options) =>
        (await new HostDoctor(options, new NoCommands()).RunAsync(CancellationToken.None)).Single(i => i.Id == id);

    private DoctorOptions Options() => new()
    {
        Fail2banDirectory = _dir, FirewallRulesFile = Path.Combine(_dir, "none"), DiskPath = _dir,
        AptPeriodicDirectory = Path.Combine(_dir, "apt"), MemInfoFile = Path.Combine(_dir, "meminfo"),
    };

    [Theory]
    [InlineData("APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n", "Pass")]
    [InlineData("APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"0\";\n", "Fail")]
    [InlineData("APT::Periodic::Update-Package-Lists \"1\";\n", "Fail")]
    public async Task Updates_AutoUpgradesFile_StatusBySetting(string content, string expected)
    {
        Directory.CreateDirectory(Path.Combine(_dir, "apt"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "apt", "20auto-upgrades"), content);

        var item = await ItemAsync("host.updates", Options());

        Assert.Equal(Enum.Parse<DoctorStatus>(expected), item.Status);
    }

    [Fact]
    public async Task Updates_LaterFileSwitchesItOff_Fail()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "apt"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "apt", "20auto-upgrades"), "APT::Periodic::Unattended-Upgrade \"1\";\n");
        await File.WriteAllTextAsync(Path.Combine(_dir, "apt", "99local"), "APT::Periodic::Unattended-Upgrade \"0\";\n");

        Assert.Equal(DoctorStatus.Fail, (await ItemAsync("host.updates", Options())).Status);
    }

    [Theory]
    [InlineData(2_000_000, "Pass")]
    [InlineData(50_000, "Fail")]
    public async Task Memory_MemAvailable_ComparedWithTheMinimum(long kib, string expected)
    {
        await File.WriteAllTextAsync(Path.Combine(_dir, "meminfo"), $"MemTotal:        4000000 kB\nMemFree:          100000 kB\nMemAvailable:   {kib,9} kB\n");

        var item = await ItemAsync("host.memory", Options());

        Assert.Equal(Enum.Parse<DoctorStatus>(expected), item.Status);
    }

    [Fact]
    public async Task Disk_RatioAboveWhatIsFree_Fail()
    {
        var options = Options();
        options.MinimumFreeDiskRatio = 0.99;
        var strict = await ItemAsync("host.disk", options);
        options.MinimumFreeDiskRatio = 0;
        var lenient = await ItemAsync("host.disk", options);

        Assert.Equal(DoctorStatus.Fail, strict.Status);
        Assert.Equal(DoctorStatus.Pass, lenient.Status);
    }

    [Theory]
    [InlineData("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp -m multiport --dports 25,465,587 -j ACCEPT\nCOMMIT\n", true, "")]
    [InlineData("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 25 -j ACCEPT\nCOMMIT\n", true, "465,587")]
    [InlineData("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", false, "25,465,587")]
    public void FirewallRules_IptablesSave_Judged(string rules, bool filters, string closed)
    {
        var verdict = FirewallRules.Judge(rules, [25, 465, 587]);

        Assert.Equal(filters, verdict.Filters);
        Assert.Equal(closed, string.Join(',', verdict.Closed));
    }

    [Fact]
    public void Fail2banJails_LocalOverridesConf_EnabledFromTheLastFile()
    {
        File.WriteAllText(Path.Combine(_dir, "jail.conf"), "[DEFAULT]\nenabled = false\n[postfix-sasl]\nfilter = postfix[mode=auth]\n[sshd]\nenabled = true\n");
        Directory.CreateDirectory(Path.Combine(_dir, "jail.d"));
        File.WriteAllText(Path.Combine(_dir, "jail.d", "mail.local"), "[postfix-sasl]\nenabled = true\n");

        var jails = Fail2banJails.Read(_dir, out var files);

        Assert.Equal(2, files.Count);
        var sasl = jails.Single(j => j.Name == "postfix-sasl");
        Assert.True(sasl.Enabled);
        Assert.True(Fail2banJails.IsPostfixSasl(sasl));
        Assert.False(Fail2banJails.IsPostfixSasl(jails.Single(j => j.Name == "sshd")));
    }
}
