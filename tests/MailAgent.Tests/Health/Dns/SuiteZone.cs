using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using MailAgent.Health.Dns;

namespace MailAgent.Tests.Health.Dns;

/// <summary>
/// The zone data of one section of the RFC 7208 suite behind <see cref="IDnsLookup"/>, answering as
/// the suite's own harness (pyspf) does: "SPF" entries are served as TXT only where the name has no
/// "TXT" entry ("TXT": "NONE" means no TXT record); "TIMEOUT" times out a query that found no record
/// of its type before it; CNAMEs are followed (a loop is SERVFAIL); names not listed are NXDOMAIN.
/// </summary>
internal sealed class SuiteZone : IDnsLookup
{
    private const string Timeout = "TIMEOUT";
    private readonly Dictionary<string, List<(string Type, JsonElement Value)>> _names = new(StringComparer.OrdinalIgnoreCase);

    public SuiteZone(JsonElement zonedata)
    {
        foreach (var name in zonedata.EnumerateObject())
        {
            var entries = new List<(string, JsonElement)>();
            foreach (var entry in name.Value.EnumerateArray())
            {
                if (entry.ValueKind == JsonValueKind.String)
                {
                    entries.Add((entry.GetString()!, default));
                    continue;
                }

                foreach (var record in entry.EnumerateObject())
                    entries.Add((record.Name, record.Value));
            }

            _names[Normal(name.Name)] = entries;
        }
    }

    public Task<DnsLookupResult<string>> TxtAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(Query(name, "TXT", Text));

    public Task<DnsLookupResult<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken) =>
        Task.FromResult(Query(name, family == AddressFamily.InterNetworkV6 ? "AAAA" : "A", v => IPAddress.Parse(v.GetString()!)));

    public Task<DnsLookupResult<string>> MxAsync(string name, CancellationToken cancellationToken)
    {
        var result = Query(name, "MX", v => (Preference: v[0].GetInt32(), Host: v[1].GetString()!.TrimEnd('.')));
        return Task.FromResult(new DnsLookupResult<string>(result.Status, result.Records.OrderBy(m => m.Preference).Select(m => m.Host).ToArray(), result.Detail));
    }

    public Task<DnsLookupResult<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        Task.FromResult(Query(address.GetArpaName(), "PTR", v => v.GetString()!.TrimEnd('.')));

    private static string Text(JsonElement value) =>
        value.ValueKind == JsonValueKind.Array ? string.Concat(value.EnumerateArray().Select(s => s.GetString())) : value.GetString()!;

    private static string Normal(string name) => name.TrimEnd('.').ToLowerInvariant();

    private DnsLookupResult<T> Query<T>(string name, string type, Func<JsonElement, T> read)
    {
        string current = Normal(name);
        for (int hops = 0; hops < 10; hops++)
        {
            if (!_names.TryGetValue(current, out var entries))
                return new(DnsLookupStatus.NxDomain, [], $"{current} does not exist (NXDOMAIN)");
            var cname = entries.FirstOrDefault(e => e.Type == "CNAME");
            if (cname.Type != null)
            {
                current = Normal(cname.Value.GetString()!);
                continue;
            }

            // The suite's SPF type is served as TXT where no TXT entry exists.
            string served = type == "TXT" && !entries.Any(e => e.Type == "TXT") ? "SPF" : type;
            var records = new List<T>();
            bool found = false;
            foreach (var (entryType, value) in entries)
            {
                if (entryType == Timeout)
                {
                    if (!found)
                        return new(DnsLookupStatus.Unreachable, [], $"127.0.0.1:53 did not answer {type} {current} (timed out)");
                    break;
                }

                if (entryType != served)
                    continue;
                if (value.ValueKind == JsonValueKind.String && value.GetString() == "NONE")
                    continue;
                found = true;
                records.Add(read(value));
            }

            return DnsLookupResult<T>.Of(records);
        }

        return new(DnsLookupStatus.Failed, [], $"127.0.0.1:53 answered {type} {name} with SERVFAIL (CNAME loop)");
    }
}
