using System.Globalization;
using System.Text.RegularExpressions;

namespace MailAgent.Doctor;

/// <summary>
/// The host: a fail2ban jail for Postfix SASL enabled in its configuration files and active in the
/// running server, a firewall that drops by default and accepts 25/465/587, unattended-upgrades on,
/// and disk and memory headroom.
/// </summary>
internal sealed partial class HostDoctor(DoctorOptions options, IHostCommands commands) : IDoctorCheck
{
    public async Task<IReadOnlyList<DoctorItem>> RunAsync(CancellationToken cancellationToken) =>
    [
        await Fail2banAsync(cancellationToken),
        await FirewallAsync(cancellationToken),
        Updates(),
        Disk(),
        Memory(),
    ];

    private async Task<DoctorItem> Fail2banAsync(CancellationToken cancellationToken)
    {
        const string Title = "fail2ban with a Postfix SASL jail active";
        const string Fix = "apt install fail2ban, and in /etc/fail2ban/jail.d/postfix-sasl.local write: [postfix-sasl] enabled = true (filter postfix[mode=auth]); then systemctl restart fail2ban";
        var jails = Fail2banJails.Read(options.Fail2banDirectory, out var files);
        var evidence = new List<string> { $"read {(files.Count == 0 ? "no files" : string.Join(", ", files))}" };
        var sasl = jails.Where(j => j.Enabled && Fail2banJails.IsPostfixSasl(j)).Select(j => j.Name).ToArray();
        evidence.AddRange(jails.Where(j => j.Enabled).Select(j => $"enabled jail [{j.Name}] filter = {j.Filter}"));
        if (files.Count == 0)
            return new(DoctorGroup.Host, "host.fail2ban", Title, DoctorStatus.Fail, $"fail2ban is not installed (no jail.conf in {options.Fail2banDirectory})", evidence, Fix);
        if (sasl.Length == 0)
            return new(DoctorGroup.Host, "host.fail2ban", Title, DoctorStatus.Fail, "no enabled jail watches Postfix SASL logins (postfix-sasl, or filter postfix[mode=auth])", evidence, Fix);

        var status = await commands.RunAsync("fail2ban-client", ["-c", options.Fail2banDirectory, "-s", options.Fail2banSocket, "status"], cancellationToken);
        evidence.Add($"fail2ban-client status: exit {status.ExitCode}: {status.Output.ReplaceLineEndings(" ")}");
        if (status.ExitCode != 0)
            return new(DoctorGroup.Host, "host.fail2ban", Title, DoctorStatus.Fail, $"jail {string.Join(", ", sasl)} is configured, but the fail2ban server does not answer", evidence, "systemctl enable --now fail2ban");
        var active = JailList().Match(status.Output) is { Success: true } m
            ? m.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : [];
        var running = sasl.Where(j => active.Contains(j, StringComparer.Ordinal)).ToArray();
        return running.Length > 0
            ? new(DoctorGroup.Host, "host.fail2ban", Title, DoctorStatus.Pass, $"jail {string.Join(", ", running)} is enabled and running", evidence, Fix)
            : new(DoctorGroup.Host, "host.fail2ban", Title, DoctorStatus.Fail, $"jail {string.Join(", ", sasl)} is configured but not running (active: {string.Join(", ", active)})", evidence, "fail2ban-client reload, and read /var/log/fail2ban.log for why the jail did not start");
    }

    private async Task<DoctorItem> FirewallAsync(CancellationToken cancellationToken)
    {
        const string Title = "Firewall allows 25/465/587 and drops the rest";
        const string Fix = "with nftables: an inet filter table whose input chain has policy drop, accepts established/related, lo, ssh, and 'tcp dport { 25, 465, 587 } accept'; systemctl enable --now nftables";
        string source;
        string rules;
        if (options.FirewallRulesFile.Length > 0)
        {
            source = options.FirewallRulesFile;
            rules = File.Exists(source) ? await File.ReadAllTextAsync(source, cancellationToken) : "";
        }
        else
        {
            var nft = await commands.RunAsync("nft", ["list", "ruleset"], cancellationToken);
            source = "nft list ruleset";
            rules = nft.Output;
            if (nft.ExitCode != 0 || rules.Length == 0)
            {
                var ipt = await commands.RunAsync("iptables-save", [], cancellationToken);
                if (ipt.ExitCode == 0 && ipt.Output.Length > 0)
                {
                    source = "iptables-save";
                    rules = ipt.Output;
                }
            }
        }

        var verdict = FirewallRules.Judge(rules, [options.SmtpPort, options.SubmissionsPort, options.SubmissionPort]);
        var evidence = new List<string> { $"from {source}: {verdict.Summary}" };
        if (!verdict.Filters)
            return new(DoctorGroup.Host, "host.firewall", Title, DoctorStatus.Fail, "no firewall drops unsolicited traffic (no input chain with policy drop or a final drop/reject)", evidence, Fix);
        if (verdict.Closed.Count > 0)
            return new(DoctorGroup.Host, "host.firewall", Title, DoctorStatus.Fail, $"the firewall drops by default but does not accept {string.Join(", ", verdict.Closed)}", evidence, Fix);
        return new(DoctorGroup.Host, "host.firewall", Title, DoctorStatus.Pass, "the input chain drops by default and accepts the mail ports", evidence, Fix);
    }

    private DoctorItem Updates()
    {
        const string Title = "Automatic security updates enabled";
        const string Fix = "apt install unattended-upgrades, then dpkg-reconfigure -plow unattended-upgrades (writes APT::Periodic::Unattended-Upgrade \"1\"; to 20auto-upgrades)";
        string? value = null;
        string? from = null;
        if (Directory.Exists(options.AptPeriodicDirectory))
        {
            // apt reads apt.conf.d in lexical order; the last setting wins.
            foreach (string file in Directory.EnumerateFiles(options.AptPeriodicDirectory).Order(StringComparer.Ordinal))
            {
                foreach (Match m in UnattendedSetting().Matches(File.ReadAllText(file)))
                {
                    value = m.Groups[1].Value;
                    from = file;
                }
            }
        }

        var evidence = new List<string> { value == null ? $"no APT::Periodic::Unattended-Upgrade in {options.AptPeriodicDirectory}" : $"{from}: APT::Periodic::Unattended-Upgrade \"{value}\"" };
        bool on = value != null && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int days) && days > 0;
        return on
            ? new(DoctorGroup.Host, "host.updates", Title, DoctorStatus.Pass, "unattended-upgrades runs", evidence, Fix)
            : new(DoctorGroup.Host, "host.updates", Title, DoctorStatus.Fail, value == null ? "unattended-upgrades is not configured" : "unattended-upgrades is switched off (\"0\")", evidence, Fix);
    }

    private DoctorItem Disk()
    {
        const string Title = "Disk headroom";
        string fix = $"free space on the file system of {options.DiskPath} (old logs, apt clean, a stuck queue: 'mailagent queue') or grow it";
        if (!Directory.Exists(options.DiskPath))
            return new(DoctorGroup.Host, "host.disk", Title, DoctorStatus.Fail, $"{options.DiskPath} does not exist", [], "set Doctor:DiskPath to Postfix's queue_directory");
        var drive = new DriveInfo(options.DiskPath);
        double free = drive.TotalSize == 0 ? 0 : (double)drive.AvailableFreeSpace / drive.TotalSize;
        string seen = $"{options.DiskPath} on {drive.RootDirectory}: {drive.AvailableFreeSpace / (1024 * 1024)} MiB of {drive.TotalSize / (1024 * 1024)} MiB free ({free:P0})";
        return free < options.MinimumFreeDiskRatio
            ? new(DoctorGroup.Host, "host.disk", Title, DoctorStatus.Fail, $"only {free:P0} free, less than {options.MinimumFreeDiskRatio:P0}", [seen], fix)
            : new(DoctorGroup.Host, "host.disk", Title, DoctorStatus.Pass, $"{free:P0} free", [seen], fix);
    }

    private DoctorItem Memory()
    {
        const string Title = "Memory headroom";
        string fix = "stop what uses the memory (ps aux --sort=-rss | head) or add memory/swap";
        string text = File.Exists(options.MemInfoFile) ? File.ReadAllText(options.MemInfoFile) : "";
        if (MemAvailable().Match(text) is not { Success: true } m)
            return new(DoctorGroup.Host, "host.memory", Title, DoctorStatus.Skip, $"{options.MemInfoFile} has no MemAvailable line", [], "run on Linux 3.14 or later");
        long mib = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) / 1024;
        string seen = $"{options.MemInfoFile}: MemAvailable {mib} MiB";
        return mib < options.MinimumAvailableMemoryMiB
            ? new(DoctorGroup.Host, "host.memory", Title, DoctorStatus.Fail, $"only {mib} MiB available, less than {options.MinimumAvailableMemoryMiB} MiB", [seen], fix)
            : new(DoctorGroup.Host, "host.memory", Title, DoctorStatus.Pass, $"{mib} MiB available", [seen], fix);
    }

    [GeneratedRegex(@"^\s*APT::Periodic::Unattended-Upgrade\s+""([^""]*)""\s*;", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex UnattendedSetting();

    [GeneratedRegex(@"^MemAvailable:\s+([0-9]+) kB", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex MemAvailable();

    [GeneratedRegex(@"Jail list:\s*(.*)$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex JailList();
}
