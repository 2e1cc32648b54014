using System.Net;
using System.Net.Sockets;
using DnsClient;

namespace MailAgent.Health.Dns;

/// <summary>How a DNS query ended.</summary>
internal enum DnsLookupStatus
{
    /// <summary>NOERROR with records of the asked type.</summary>
    Found,

    /// <summary>NOERROR without records of the asked type (NODATA).</summary>
    NoRecords,

    /// <summary>NXDOMAIN: the name does not exist.</summary>
    NxDomain,

    /// <summary>The resolver answered with an error (SERVFAIL, REFUSED, …).</summary>
    Failed,

    /// <summary>No answer in time, or the resolver could not be reached.</summary>
    Unreachable,
}

/// <summary>The records a query found, or why there are none.</summary>
internal sealed record DnsLookupResult<T>(DnsLookupStatus Status, IReadOnlyList<T> Records, string Detail)
{
    public bool IsVoid => Status is DnsLookupStatus.NoRecords or DnsLookupStatus.NxDomain;

    public static DnsLookupResult<T> Of(IReadOnlyList<T> records) =>
        new(records.Count > 0 ? DnsLookupStatus.Found : DnsLookupStatus.NoRecords, records, "");
}

/// <summary>The DNS queries the dns check makes; a seam so the SPF evaluator is tested without a server.</summary>
internal interface IDnsLookup
{
    /// <summary>TXT records of <paramref name="name"/>, each record's strings joined.</summary>
    Task<DnsLookupResult<string>> TxtAsync(string name, CancellationToken cancellationToken);

    /// <summary>A (IPv4) or AAAA (IPv6) records of <paramref name="name"/>.</summary>
    Task<DnsLookupResult<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken);

    /// <summary>Exchange host names of the MX records of <paramref name="name"/>, by preference.</summary>
    Task<DnsLookupResult<string>> MxAsync(string name, CancellationToken cancellationToken);

    /// <summary>Names of the PTR records of <paramref name="address"/>, without the trailing dot.</summary>
    Task<DnsLookupResult<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken);
}

/// <summary>One TLSA record (RFC 6698): certificate usage, selector, matching type and association data.</summary>
internal sealed record TlsaRecordData(int Usage, int Selector, int MatchingType, byte[] Data)
{
    public override string ToString() => $"{Usage} {Selector} {MatchingType} {Convert.ToHexString(Data).ToLowerInvariant()}";
}

/// <summary>TLSA queries (DANE), apart from <see cref="IDnsLookup"/> so the SPF fakes need not answer them.</summary>
internal interface ITlsaLookup
{
    /// <summary>TLSA records of <paramref name="name"/>, e.g. _25._tcp.mail.example.com.</summary>
    Task<DnsLookupResult<TlsaRecordData>> TlsaAsync(string name, CancellationToken cancellationToken);
}

/// <summary>
/// <see cref="IDnsLookup"/> over DnsClient (Apache-2.0), which builds without trim or AOT warnings.
/// No cache: the health loop already runs this check on its own interval and keeps the result.
/// </summary>
internal sealed class DnsClientLookup : IDnsLookup, ITlsaLookup
{
    private readonly LookupClient _client;
    private readonly string _server;

    public DnsClientLookup(DnsCheckOptions options)
    {
        if (!DnsCheckOptions.TryParseResolver(options.Resolver, out var endpoint))
            throw new ArgumentException($"Health:Dns:Resolver '{options.Resolver}' is not an address", nameof(options));
        var settings = endpoint == null ? new LookupClientOptions() : new LookupClientOptions(endpoint);
        settings.UseCache = false;
        settings.Timeout = options.Timeout;
        settings.Retries = 0;
        settings.ThrowDnsErrors = false;
        settings.ContinueOnDnsError = false;
        settings.ContinueOnEmptyResponse = false;
        settings.UseTcpFallback = true;
        _client = new LookupClient(settings);
        _server = endpoint?.ToString() ?? "the system resolver";
    }

    public async Task<DnsLookupResult<string>> TxtAsync(string name, CancellationToken cancellationToken) =>
        await QueryAsync(name, QueryType.TXT, r => r.Answers.TxtRecords().Select(t => string.Concat(t.Text)).ToArray(), cancellationToken);

    public async Task<DnsLookupResult<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken) =>
        family == AddressFamily.InterNetworkV6
            ? await QueryAsync(name, QueryType.AAAA, r => r.Answers.AaaaRecords().Select(a => a.Address).ToArray(), cancellationToken)
            : await QueryAsync(name, QueryType.A, r => r.Answers.ARecords().Select(a => a.Address).ToArray(), cancellationToken);

    public async Task<DnsLookupResult<string>> MxAsync(string name, CancellationToken cancellationToken) =>
        await QueryAsync(name, QueryType.MX, r => r.Answers.MxRecords().OrderBy(m => m.Preference).Select(m => Trim(m.Exchange.Value)).ToArray(), cancellationToken);

    public async Task<DnsLookupResult<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        await QueryAsync(address.GetArpaName(), QueryType.PTR, r => r.Answers.PtrRecords().Select(p => Trim(p.PtrDomainName.Value)).ToArray(), cancellationToken);

    public async Task<DnsLookupResult<TlsaRecordData>> TlsaAsync(string name, CancellationToken cancellationToken) =>
        await QueryAsync(name, QueryType.TLSA, r => r.Answers.OfType<DnsClient.Protocol.TlsaRecord>()
            .Select(t => new TlsaRecordData((int)t.CertificateUsage, (int)t.Selector, (int)t.MatchingType, t.CertificateAssociationData.ToArray())).ToArray(), cancellationToken);

    private async Task<DnsLookupResult<T>> QueryAsync<T>(string name, QueryType type, Func<IDnsQueryResponse, T[]> read, CancellationToken cancellationToken)
    {
        IDnsQueryResponse response;
        try
        {
            response = await _client.QueryAsync(name, type, QueryClass.IN, cancellationToken);
        }
        catch (DnsResponseException e)
        {
            return new(DnsLookupStatus.Unreachable, [], $"{_server} did not answer {type} {name} ({Describe(e)})");
        }
        catch (SocketException e)
        {
            return new(DnsLookupStatus.Unreachable, [], $"{_server} cannot be reached for {type} {name} ({e.SocketErrorCode})");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(DnsLookupStatus.Unreachable, [], $"{_server} did not answer {type} {name} in time");
        }

        if (response.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
            return new(DnsLookupStatus.NxDomain, [], $"{name} does not exist (NXDOMAIN)");
        if (response.HasError)
            return new(DnsLookupStatus.Failed, [], $"{_server} answered {type} {name} with {response.ErrorMessage}");
        return DnsLookupResult<T>.Of(read(response));
    }

    private static string Describe(DnsResponseException e) =>
        e.Code == DnsResponseCode.ConnectionTimeout ? "timed out" : e.InnerException?.Message ?? e.DnsError;

    private static string Trim(string name) => name.TrimEnd('.');
}
