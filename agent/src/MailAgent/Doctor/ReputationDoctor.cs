using System.Net;
using MailAgent.Health.Dns;

namespace MailAgent.Doctor;

/// <summary>Spamhaus ZEN for each host address, DBL for the mail domain, and the configured extra blocklists.</summary>
internal sealed class ReputationDoctor(DoctorOptions options, DnsCheckOptions dnsOptions, IDnsLookup dns) : IDoctorCheck
{
    private readonly BlocklistLookup _lookup = new(dns);

    public async Task<IReadOnlyList<DoctorItem>> RunAsync(CancellationToken cancellationToken)
    {
        var addresses = dnsOptions.HostAddressList().Select(IPAddress.Parse).ToArray();
        string domain = dnsOptions.Domain.Trim().TrimEnd('.');
        const string Why = "Health:Dns:HostAddresses is not set, so there is no address to look up";
        const string Configure = "set Health:Dns:HostAddresses (and Health:Dns:Domain for DBL)";
        var items = new List<DoctorItem>();

        if (addresses.Length == 0 || string.IsNullOrWhiteSpace(options.ZenZone))
            items.Add(DoctorItem.Skip(DoctorGroup.Reputation, "reputation.zen", "Not listed on Spamhaus ZEN", addresses.Length == 0 ? Why : "Doctor:ZenZone is empty", Configure));
        else
            items.Add(Item("reputation.zen", "Not listed on Spamhaus ZEN", await Task.WhenAll(addresses.Select(a => _lookup.CheckAddressAsync(a, options.ZenZone, cancellationToken))),
                "see https://check.spamhaus.org for the listing and its removal form; fix the cause first (an open relay, a compromised account, a missing PTR for PBL)"));

        if (domain.Length == 0 || string.IsNullOrWhiteSpace(options.DblZone))
            items.Add(DoctorItem.Skip(DoctorGroup.Reputation, "reputation.dbl", "Domain not listed on Spamhaus DBL", domain.Length == 0 ? "Health:Dns:Domain is not set" : "Doctor:DblZone is empty", Configure));
        else
            items.Add(Item("reputation.dbl", "Domain not listed on Spamhaus DBL", [await _lookup.CheckDomainAsync(domain, options.DblZone, cancellationToken)],
                "see https://check.spamhaus.org for why the domain is listed and request removal"));

        var extra = options.ExtraBlocklistList();
        if (extra.Count == 0 || addresses.Length == 0)
            items.Add(DoctorItem.Skip(DoctorGroup.Reputation, "reputation.dnsbl", "Not listed on other DNS blocklists",
                extra.Count == 0 ? "no Doctor:ExtraBlocklists configured" : Why, "list more zones in Doctor:ExtraBlocklists, ';'-separated (e.g. b.barracudacentral.org;bl.spamcop.net)"));
        else
            items.Add(Item("reputation.dnsbl", "Not listed on other DNS blocklists",
                await Task.WhenAll(extra.SelectMany(zone => addresses.Select(a => _lookup.CheckAddressAsync(a, zone, cancellationToken)))),
                "look the address up on each list's site and follow its removal procedure"));
        return items;
    }

    private static DoctorItem Item(string id, string title, IReadOnlyList<BlocklistAnswer> answers, string fix)
    {
        var evidence = answers.Select(a => $"A {a.Query}: {(a.Codes.Count == 0 ? a.Detail : string.Join(", ", a.Codes))} → {a}").ToArray();
        var listed = answers.Where(a => a.Standing == BlocklistStanding.Listed).ToArray();
        if (listed.Length > 0)
            return new(DoctorGroup.Reputation, id, title, DoctorStatus.Fail, string.Join("; ", listed.Select(a => a.ToString())), evidence, fix);
        var unsure = answers.Where(a => a.Standing is BlocklistStanding.Refused or BlocklistStanding.Unknown).ToArray();
        if (unsure.Length > 0)
        {
            bool refused = unsure.Any(a => a.Standing == BlocklistStanding.Refused);
            return new(DoctorGroup.Reputation, id, title, DoctorStatus.Warn, string.Join("; ", unsure.Select(a => a.ToString())), evidence,
                refused ? "query the list through a resolver of your own (e.g. a local unbound), not a public one; Spamhaus refuses public resolvers" : "check Health:Dns:Resolver");
        }

        return new(DoctorGroup.Reputation, id, title, DoctorStatus.Pass, string.Join("; ", answers.Select(a => a.ToString())), evidence, fix);
    }
}
