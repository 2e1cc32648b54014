using System.Net;
using System.Net.Sockets;

namespace MailAgent.Doctor;

/// <summary>
/// The MTA-STS policy file (RFC 8461): https://mta-sts.DOMAIN/.well-known/mta-sts.txt fetched with
/// certificate and name validation and no redirects; version STSv1, a mode, max_age, and an mx line
/// covering myhostname. Tests point the connection at a loopback server (Doctor:MtaStsConnectTo) and
/// trust a test CA (Doctor:MtaStsCaFile); in production the name resolves normally.
/// </summary>
internal sealed class MtaStsPolicyDoctor(DoctorOptions options, string domain, string hostName, TimeProvider? time = null) : IDoctorCheck
{
    private const string Id = "transport.mta-sts-policy";
    private const string Title = "MTA-STS policy file";
    private const int MaxPolicyBytes = 64 * 1024;

    public async Task<IReadOnlyList<DoctorItem>> RunAsync(CancellationToken cancellationToken) => [await CheckAsync(cancellationToken)];

    private async Task<DoctorItem> CheckAsync(CancellationToken cancellationToken)
    {
        string host = hostName.Trim().TrimEnd('.');
        string fix = $"serve https://mta-sts.{domain}/.well-known/mta-sts.txt with a valid certificate for mta-sts.{domain}: 'version: STSv1', 'mode: enforce' (after a period of 'testing'), 'mx: {(host.Length > 0 ? host : "mail." + domain)}', 'max_age: 604800'";
        if (domain.Length == 0)
            return DoctorItem.Skip(DoctorGroup.TransportSecurity, Id, Title, "no mail domain configured (Health:Dns:Domain)", fix);
        var url = new Uri($"https://mta-sts.{domain}/.well-known/mta-sts.txt");
        string body;
        try
        {
            using var client = new HttpClient(Handler(), disposeHandler: true) { Timeout = options.Timeout };
            using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
                return new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Fail, $"{url} answered {(int)response.StatusCode} {response.ReasonPhrase} (redirects are not followed, RFC 8461 3.3)", [], fix);
            if (response.Content.Headers.ContentLength > MaxPolicyBytes)
                return new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Fail, $"{url} is larger than {MaxPolicyBytes} bytes", [], fix);
            body = await response.Content.ReadAsStringAsync(cancellationToken);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException or null && e.HttpRequestError is HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError)
        {
            return new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Warn, $"{url} is not reachable from this host ({e.Message}); senders fetch it from outside, so check it from there", [], fix);
        }
        catch (HttpRequestException e)
        {
            return new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Fail, $"{url} cannot be fetched: {e.Message}{(e.InnerException == null ? "" : $" ({e.InnerException.Message})")}", [], fix);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Warn, $"{url} did not answer within {options.Timeout.TotalSeconds:0.#} s", [], fix);
        }

        var lines = body.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray();
        var evidence = new[] { $"{url}:" }.Concat(lines.Take(20).Select(l => "  " + l)).ToArray();
        string? Value(string key) => lines.Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals(key, StringComparison.Ordinal)).Select(p => p[1].Trim()).FirstOrDefault();
        var mx = lines.Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim() == "mx").Select(p => p[1].Trim()).ToArray();
        var problems = new List<string>();
        if (Value("version") != "STSv1")
            problems.Add("no 'version: STSv1' line");
        string? mode = Value("mode");
        if (mode is not ("enforce" or "testing" or "none"))
            problems.Add($"mode is '{mode}', not enforce, testing or none");
        if (!long.TryParse(Value("max_age"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long maxAge) || maxAge > 31557600)
            problems.Add("max_age is missing or not 0-31557600");
        if (mode != "none" && host.Length > 0 && !mx.Any(p => MxMatches(p, host)))
            problems.Add($"no mx line covers {host} ([{string.Join(", ", mx)}]): senders enforcing the policy will not deliver here");
        if (problems.Count > 0)
            return new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Fail, string.Join("; ", problems), evidence, fix);
        return mode == "enforce"
            ? new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Pass, $"mode enforce, max_age {maxAge}, mx covers {host}", evidence, fix)
            : new(DoctorGroup.TransportSecurity, Id, Title, DoctorStatus.Warn, $"mode is {mode}: senders report but do not enforce", evidence, fix);
    }

    private static bool MxMatches(string pattern, string host) =>
        pattern.Equals(host, StringComparison.OrdinalIgnoreCase)
        || (pattern.StartsWith("*.", StringComparison.Ordinal) && host.IndexOf('.', StringComparison.Ordinal) is var dot and > 0
            && host[(dot + 1)..].Equals(pattern[2..], StringComparison.OrdinalIgnoreCase));

    private SocketsHttpHandler Handler()
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false, ConnectTimeout = options.Timeout };
        if (options.MtaStsConnectTo.Length > 0 && IPEndPoint.TryParse(options.MtaStsConnectTo, out var target))
        {
            handler.ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await socket.ConnectAsync(target, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        if (options.MtaStsCaFile.Length > 0)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = CertificateChains.ServerTrustedBy(CertificateChains.LoadCa(options.MtaStsCaFile), time ?? TimeProvider.System);
        }

        return handler;
    }
}
