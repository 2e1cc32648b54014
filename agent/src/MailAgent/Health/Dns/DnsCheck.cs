using System.Net;

namespace MailAgent.Health.Dns;

/// <summary>
/// The mail domain's DNS as receivers see it, through the configured resolver: SPF authorises each
/// host address, the DKIM record carries the signing key, DMARC exists, and each address's PTR names
/// myhostname (and that name's A/AAAA points back). A slow check: it runs on the slow interval and
/// its result is cached by the health loop.
/// </summary>
/// <remarks>
/// Severity: what makes receivers reject or junk this host's mail is unhealthy (SPF fail, none or
/// permerror; DKIM record missing, revoked or not the signing key; PTR missing or naming another
/// host). What weakens it is degraded (SPF softfail or neutral, no DMARC, a forward record that does
/// not point back). A resolver that does not answer is degraded:
/// it says nothing about the records.
/// </remarks>
internal sealed class DnsCheck(DnsCheckOptions options, IDnsLookup dns) : IHealthCheck
{
    private readonly SpfEvaluator _spf = new(dns);

    public string Name => "dns";

    public bool IsSlow => true;

    public async Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        string domain = options.Domain.Trim().TrimEnd('.');
        var addresses = options.HostAddressList().Select(IPAddress.Parse).ToArray();
        var parts = await Task.WhenAll(
            CheckSpfAsync(domain, addresses, cancellationToken),
            CheckDkimAsync(domain, cancellationToken),
            CheckDmarcAsync(domain, cancellationToken),
            CheckPtrAsync(addresses, cancellationToken));
        var status = parts.Max(p => p.Status);
        // The problems first: the reason is read by a person in a hurry.
        return new HealthCheckResult(status, string.Join("; ", parts.OrderByDescending(p => p.Status).Select(p => p.Reason)));
    }

    internal async Task<HealthCheckResult> CheckSpfAsync(string domain, IReadOnlyList<IPAddress> addresses, CancellationToken cancellationToken)
    {
        var verdicts = await Task.WhenAll(addresses.Select(a => _spf.CheckHostAsync(a, domain, cancellationToken)));
        var results = verdicts.Select(v => new HealthCheckResult(
            v.Result switch
            {
                SpfResult.Pass => HealthStatus.Healthy,
                SpfResult.Fail or SpfResult.None or SpfResult.PermError => HealthStatus.Unhealthy,
                _ => HealthStatus.Degraded,
            },
            $"SPF {v.Result.ToString().ToLowerInvariant()}: {v.Reason}")).ToArray();
        var worst = results.Max(r => r.Status);
        return new HealthCheckResult(worst, string.Join("; ", results.Where(r => r.Status == worst).Select(r => r.Reason).Distinct()));
    }

    internal async Task<HealthCheckResult> CheckDkimAsync(string domain, CancellationToken cancellationToken)
    {
        string selector = options.DkimSelector.Trim();
        string name = $"{selector}._domainkey.{domain}";
        if (!DkimKey.TryLoadPublicKey(options.DkimKeyFile, out var key, out var problem))
            return HealthCheckResult.Unhealthy($"DKIM: the key file {options.DkimKeyFile} {problem}");
        var txt = await dns.TxtAsync(name, cancellationToken);
        if (txt.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
            return HealthCheckResult.Degraded($"DKIM: cannot read {name}: {txt.Detail}");
        if (txt.Records.Count == 0)
            return HealthCheckResult.Unhealthy($"DKIM: no TXT record at {name} ({(txt.Status == DnsLookupStatus.NxDomain ? "NXDOMAIN" : "no TXT")}); receivers cannot verify signatures with selector {selector}");

        var problems = new List<string>();
        foreach (var record in txt.Records)
        {
            var tags = DkimKey.ParseTags(record);
            if (tags.TryGetValue("v", out var v) && !v.Equals("DKIM1", StringComparison.Ordinal))
            {
                problems.Add($"a record with v={v}, not DKIM1");
                continue;
            }

            if (tags.TryGetValue("k", out var k) && !k.Equals("rsa", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"a k={k} record, while the signing key is RSA");
                continue;
            }

            if (!tags.TryGetValue("p", out var p))
            {
                problems.Add("a record without p=");
                continue;
            }

            if (p.Length == 0)
            {
                problems.Add("the key is revoked (empty p=)");
                continue;
            }

            if (DkimKey.Matches(key, p, out var why))
                return HealthCheckResult.Healthy($"DKIM: {name} carries the signing key");
            problems.Add(why);
        }

        return HealthCheckResult.Unhealthy($"DKIM: {name} does not carry the signing key from {options.DkimKeyFile}: {string.Join("; ", problems)}");
    }

    internal async Task<HealthCheckResult> CheckDmarcAsync(string domain, CancellationToken cancellationToken)
    {
        string name = "_dmarc." + domain;
        var txt = await dns.TxtAsync(name, cancellationToken);
        if (txt.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
            return HealthCheckResult.Degraded($"DMARC: cannot read {name}: {txt.Detail}");
        var records = txt.Records.Where(r => r.StartsWith("v=DMARC1", StringComparison.Ordinal) && (r.Length == 8 || r[8] is ';' or ' ')).ToArray();
        if (records.Length == 0)
            return HealthCheckResult.Degraded($"DMARC: no record at {name} (TXT \"v=DMARC1; p=…\"); receivers apply no policy for {domain}");
        if (records.Length > 1)
            return HealthCheckResult.Degraded($"DMARC: {name} has {records.Length} DMARC records; receivers ignore them all (RFC 7489 6.6.3)");
        var tags = DkimKey.ParseTags(records[0]);
        return tags.TryGetValue("p", out var policy) && policy is "none" or "quarantine" or "reject"
            ? HealthCheckResult.Healthy($"DMARC: {name} exists with p={policy}")
            : HealthCheckResult.Degraded($"DMARC: the record at {name} has no valid p= (none, quarantine or reject): \"{records[0]}\"");
    }

    internal async Task<HealthCheckResult> CheckPtrAsync(IReadOnlyList<IPAddress> addresses, CancellationToken cancellationToken)
    {
        string expected = options.HostName.Trim().TrimEnd('.');
        var results = await Task.WhenAll(addresses.Select(async address =>
        {
            var ptr = await dns.PtrAsync(address, cancellationToken);
            if (ptr.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
                return HealthCheckResult.Degraded($"PTR: cannot read the PTR of {address}: {ptr.Detail}");
            if (ptr.Records.Count == 0)
                return HealthCheckResult.Unhealthy($"PTR: {address} has no PTR record; receivers expect it to name {expected}");
            if (!ptr.Records.Any(n => n.Equals(expected, StringComparison.OrdinalIgnoreCase)))
                return HealthCheckResult.Unhealthy($"PTR: {address} points to {string.Join(", ", ptr.Records)}, not to myhostname {expected}");
            var forward = await dns.AddressesAsync(expected, address.AddressFamily, cancellationToken);
            if (forward.Status is DnsLookupStatus.Unreachable or DnsLookupStatus.Failed)
                return HealthCheckResult.Degraded($"PTR: {address} points to {expected}, but its address record cannot be read: {forward.Detail}");
            if (!forward.Records.Contains(address))
            {
                string found = forward.Records.Count == 0 ? "no address record" : string.Join(", ", forward.Records);
                return HealthCheckResult.Degraded($"PTR: {address} points to {expected}, but {expected} resolves to {found}, not back to {address}");
            }

            return HealthCheckResult.Healthy($"PTR: {address} points to {expected} and back");
        }));
        var worst = results.Max(r => r.Status);
        return new HealthCheckResult(worst, string.Join("; ", results.Where(r => r.Status == worst).Select(r => r.Reason)));
    }
}
