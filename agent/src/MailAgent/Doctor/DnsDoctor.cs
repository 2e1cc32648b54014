using System.Net;
using System.Net.Sockets;
using MailAgent.Health;
using MailAgent.Health.Dns;

namespace MailAgent.Doctor;

/// <summary>
/// The DNS items (MX, A/AAAA of myhostname, SPF, DKIM, DMARC, PTR) and the DNS-published transport
/// policies (MTA-STS, TLS-RPT), through the configured resolver. SPF, DKIM, DMARC and PTR are the dns
/// health check's own pieces, so the doctor and the score never disagree.
/// </summary>
internal sealed class DnsDoctor(DnsCheckOptions options, IDnsLookup dns) : IDoctorCheck
{
    private const string NotConfigured = "Health:Dns is not configured (Domain, HostName, HostAddresses, DkimSelector, DkimKeyFile), so the doctor does not know which records to check";
    private const string Configure = "set Health:Dns:Domain, HostName, HostAddresses (public addresses, ';'-separated), DkimSelector and DkimKeyFile in /etc/mailagent/agent.json";

    public async Task<IReadOnlyList<DoctorItem>> RunAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.Domain) || string.IsNullOrWhiteSpace(options.HostName) || options.HostAddressList().Count == 0)
        {
            return
            [
                DoctorItem.Skip(DoctorGroup.Dns, "dns.mx", "MX points to this host", NotConfigured, Configure),
                DoctorItem.Skip(DoctorGroup.Dns, "dns.address", "A/AAAA of myhostname are this host's addresses", NotConfigured, Configure),
                DoctorItem.Skip(DoctorGroup.Dns, "dns.spf", "SPF passes for each address", NotConfigured, Configure),
                DoctorItem.Skip(DoctorGroup.Dns, "dns.dkim", "DKIM record matches the signing key", NotConfigured, Configure),
                DoctorItem.Skip(DoctorGroup.Dns, "dns.dmarc", "DMARC has a policy", NotConfigured, Configure),
                DoctorItem.Skip(DoctorGroup.Dns, "dns.ptr", "PTR names the host and resolves back", NotConfigured, Configure),
                DoctorItem.Skip(DoctorGroup.TransportSecurity, "transport.mta-sts", "MTA-STS published", NotConfigured, Configure),
                DoctorItem.Skip(DoctorGroup.TransportSecurity, "transport.tls-rpt", "TLS-RPT published", NotConfigured, Configure),
            ];
        }

        string domain = options.Domain.Trim().TrimEnd('.');
        string host = options.HostName.Trim().TrimEnd('.');
        var addresses = options.HostAddressList().Select(IPAddress.Parse).ToArray();
        var check = new DnsCheck(options, dns);
        var items = new List<DoctorItem>
        {
            await MxAsync(domain, host, cancellationToken),
            await AddressAsync(host, addresses, cancellationToken),
            FromHealth("dns.spf", "SPF passes for each address", await check.CheckSpfAsync(domain, addresses, cancellationToken),
                $"publish TXT at {domain}: \"v=spf1 ip4:{addresses[0]} -all\" (or add {string.Join(", ", addresses)} to the existing record with ip4:/ip6: terms; keep under 10 DNS lookups)"),
        };
        items.Add(string.IsNullOrWhiteSpace(options.DkimSelector) || string.IsNullOrWhiteSpace(options.DkimKeyFile)
            ? DoctorItem.Skip(DoctorGroup.Dns, "dns.dkim", "DKIM record matches the signing key", "Health:Dns:DkimSelector or DkimKeyFile is not set", "set them to OpenDKIM's selector and the key its KeyTable names")
            : FromHealth("dns.dkim", "DKIM record matches the signing key", await check.CheckDkimAsync(domain, cancellationToken),
                $"publish the TXT record opendkim-genkey wrote next to {options.DkimKeyFile} (the .txt file) at {options.DkimSelector.Trim()}._domainkey.{domain}"));
        items.Add(FromHealth("dns.dmarc", "DMARC has a policy", await check.CheckDmarcAsync(domain, cancellationToken),
            $"publish TXT at _dmarc.{domain}: \"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}\" (start with p=none while you watch the reports)"));
        items.Add(FromHealth("dns.ptr", "PTR names the host and resolves back", await check.CheckPtrAsync(addresses, cancellationToken),
            $"ask the provider of {string.Join(", ", addresses)} to set the reverse DNS (PTR) to {host}, and give {host} an A/AAAA record with those addresses"));
        items.Add(await TxtPolicyAsync("transport.mta-sts", "MTA-STS published", "_mta-sts." + domain, "v=STSv1",
            $"publish TXT at _mta-sts.{domain}: \"v=STSv1; id=20260101\" and serve https://mta-sts.{domain}/.well-known/mta-sts.txt with mode: enforce and mx: {host}", cancellationToken));
        items.Add(await TxtPolicyAsync("transport.tls-rpt", "TLS-RPT published", "_smtp._tls." + domain, "v=TLSRPTv1",
            $"publish TXT at _smtp._tls.{domain}: \"v=TLSRPTv1; rua=mailto:tls-reports@{domain}\"", cancellationToken));
        return items;
    }

    private async Task<DoctorItem> MxAsync(string domain, string host, CancellationToken cancellationToken)
    {
        const string Title = "MX points to this host";
        string fix = $"publish MX at {domain}: \"10 {host}.\"";
        var mx = await dns.MxAsync(domain, cancellationToken);
        string evidence = $"MX {domain}: {(mx.Records.Count == 0 ? mx.Status.ToString() : string.Join(", ", mx.Records))}";
        if (mx.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
            return new(DoctorGroup.Dns, "dns.mx", Title, DoctorStatus.Warn, $"the MX of {domain} cannot be read: {mx.Detail}", [evidence], "check Health:Dns:Resolver and that the resolver answers");
        if (mx.Records.Any(r => r.Equals(host, StringComparison.OrdinalIgnoreCase)))
            return new(DoctorGroup.Dns, "dns.mx", Title, DoctorStatus.Pass, $"{domain}'s MX includes {host}", [evidence], fix);
        return new(DoctorGroup.Dns, "dns.mx", Title, DoctorStatus.Fail,
            mx.Records.Count == 0 ? $"{domain} has no MX record" : $"{domain}'s MX names {string.Join(", ", mx.Records)}, not {host}", [evidence], fix);
    }

    private async Task<DoctorItem> AddressAsync(string host, IReadOnlyList<IPAddress> addresses, CancellationToken cancellationToken)
    {
        const string Title = "A/AAAA of myhostname are this host's addresses";
        var evidence = new List<string>();
        var missing = new List<IPAddress>();
        var foreign = new List<IPAddress>();
        foreach (var family in addresses.Select(a => a.AddressFamily).Distinct())
        {
            var found = await dns.AddressesAsync(host, family, cancellationToken);
            string type = family == AddressFamily.InterNetworkV6 ? "AAAA" : "A";
            evidence.Add($"{type} {host}: {(found.Records.Count == 0 ? found.Status.ToString() : string.Join(", ", found.Records))}");
            if (found.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
                return new(DoctorGroup.Dns, "dns.address", Title, DoctorStatus.Warn, $"the {type} record of {host} cannot be read: {found.Detail}", evidence, "check Health:Dns:Resolver");
            missing.AddRange(addresses.Where(a => a.AddressFamily == family && !found.Records.Contains(a)));
            foreign.AddRange(found.Records.Where(r => !addresses.Contains(r)));
        }

        string fix = $"give {host} A/AAAA records with exactly {string.Join(", ", addresses)}";
        if (missing.Count > 0)
            return new(DoctorGroup.Dns, "dns.address", Title, DoctorStatus.Fail, $"{host} does not resolve to {string.Join(", ", missing)}", evidence, fix);
        if (foreign.Count > 0)
            return new(DoctorGroup.Dns, "dns.address", Title, DoctorStatus.Warn, $"{host} also resolves to {string.Join(", ", foreign)}, which are not in Health:Dns:HostAddresses", evidence, fix + ", or add the others to Health:Dns:HostAddresses");
        return new(DoctorGroup.Dns, "dns.address", Title, DoctorStatus.Pass, $"{host} resolves to {string.Join(", ", addresses)}", evidence, fix);
    }

    private async Task<DoctorItem> TxtPolicyAsync(string id, string title, string name, string version, string fix, CancellationToken cancellationToken)
    {
        var txt = await dns.TxtAsync(name, cancellationToken);
        var records = txt.Records.Where(r => r.StartsWith(version, StringComparison.Ordinal) && (r.Length == version.Length || r[version.Length] is ';' or ' ')).ToArray();
        var evidence = new List<string> { $"TXT {name}: {(txt.Records.Count == 0 ? txt.Status.ToString() : string.Join(" | ", txt.Records))}" };
        if (txt.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
            return new(DoctorGroup.TransportSecurity, id, title, DoctorStatus.Warn, $"{name} cannot be read: {txt.Detail}", evidence, fix);
        if (records.Length == 1)
            return new(DoctorGroup.TransportSecurity, id, title, DoctorStatus.Pass, $"{name} publishes \"{records[0]}\"", evidence, fix);
        return new(DoctorGroup.TransportSecurity, id, title, DoctorStatus.Warn,
            records.Length == 0 ? $"no {version} record at {name}" : $"{records.Length} {version} records at {name}; receivers ignore them all", evidence, fix);
    }

    private static DoctorItem FromHealth(string id, string title, HealthCheckResult result, string fix) => new(
        DoctorGroup.Dns, id, title,
        result.Status switch { HealthStatus.Healthy => DoctorStatus.Pass, HealthStatus.Degraded => DoctorStatus.Warn, _ => DoctorStatus.Fail },
        result.Reason, result.Reason.Split("; ", StringSplitOptions.RemoveEmptyEntries), fix);
}
