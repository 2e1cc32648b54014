using System.Net;
using System.Net.Sockets;
using MailAgent.Health.Dns;

namespace MailAgent.Tests.Health.Dns;

/// <summary>An in-memory zone: names not listed are NXDOMAIN; <see cref="Unreachable"/> makes every query time out.</summary>
internal sealed class FakeDnsLookup : IDnsLookup
{
    public Dictionary<string, List<string>> Txt { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, List<IPAddress>> Addresses { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, List<string>> Mx { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<IPAddress, List<string>> Ptr { get; } = [];
    public bool Unreachable { get; set; }
    public int Queries { get; private set; }

    public FakeDnsLookup AddTxt(string name, string text)
    {
        if (!Txt.TryGetValue(name, out var list))
            Txt[name] = list = [];
        list.Add(text);
        return this;
    }

    public FakeDnsLookup AddAddress(string name, string address)
    {
        if (!Addresses.TryGetValue(name, out var list))
            Addresses[name] = list = [];
        list.Add(IPAddress.Parse(address));
        return this;
    }

    public Task<DnsLookupResult<string>> TxtAsync(string name, CancellationToken cancellationToken) => Answer(name, Txt.GetValueOrDefault(name));

    public Task<DnsLookupResult<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken) =>
        Answer(name, Addresses.GetValueOrDefault(name)?.Where(a => a.AddressFamily == family).ToList());

    public Task<DnsLookupResult<string>> MxAsync(string name, CancellationToken cancellationToken) => Answer(name, Mx.GetValueOrDefault(name));

    public Task<DnsLookupResult<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        Answer(address.ToString(), Ptr.GetValueOrDefault(address));

    private Task<DnsLookupResult<T>> Answer<T>(string name, List<T>? records)
    {
        Queries++;
        if (Unreachable)
            return Task.FromResult(new DnsLookupResult<T>(DnsLookupStatus.Unreachable, [], $"127.0.0.1:53 did not answer {name} (timed out)"));
        bool exists = records != null || Txt.ContainsKey(name) || Addresses.ContainsKey(name) || Mx.ContainsKey(name);
        return Task.FromResult(exists ? DnsLookupResult<T>.Of(records ?? []) : new DnsLookupResult<T>(DnsLookupStatus.NxDomain, [], $"{name} does not exist (NXDOMAIN)"));
    }
}
