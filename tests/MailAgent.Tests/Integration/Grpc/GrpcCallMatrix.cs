using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf.Reflection;

namespace MailAgent.Tests.Integration.Grpc;

/// <summary>
/// Calls every method of a gRPC listener, as raw HTTP/2 requests so that the path can be any
/// variant (a generated client always sends the canonical one), with each kind of caller, and
/// predicts who must get through. Shared by both test projects (linked source).
/// </summary>
internal static class GrpcCallMatrix
{
    /// <summary>The path variants an attacker tries; "canonical" is the only one that may pass.</summary>
    public static readonly IReadOnlyList<(string Name, Func<string, string> Make)> PathVariants =
    [
        ("canonical", p => p),
        ("trailing slash", p => p + "/"),
        ("double slash", p => "/" + p),
        ("upper case", p => p.ToUpperInvariant()),
        ("lower case", p => p.ToLowerInvariant()),
        ("percent-encoded", p => p[..(p.LastIndexOf('/') + 1)] + "%" + ((int)p[p.LastIndexOf('/') + 1]).ToString("X2", System.Globalization.CultureInfo.InvariantCulture) + p[(p.LastIndexOf('/') + 2)..]),
        ("dot segment", p => p[..(p.LastIndexOf('/') + 1)] + "./" + p[(p.LastIndexOf('/') + 1)..]),
    ];

    /// <summary>Every method of the services, as "/package.Service/Method", from their descriptors.</summary>
    public static IReadOnlyList<(string Path, MethodDescriptor Method)> Methods(params ServiceDescriptor[] services) =>
        services.SelectMany(s => s.Methods.Select(m => ($"/{s.FullName}/{m.Name}", m))).ToList();

    /// <summary>A client certificate signed by <paramref name="ca"/> with the given subject (e.g. two CNs), usable by SslStream.</summary>
    public static X509Certificate2 Issue(X509Certificate2 ca, X500DistinguishedName subject, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var issued = request.Create(ca, notBefore, notAfter, RandomNumberGenerator.GetBytes(12));
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>An HTTP/2-only client presenting <paramref name="certificate"/> (or none), trusting a server certificate that chains to <paramref name="serverCa"/>.</summary>
    public static HttpClient Client(X509Certificate2? certificate, X509Certificate2 serverCa)
    {
        var ssl = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, server, _, _) =>
            {
                if (server == null)
                    return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(serverCa);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                using var leaf = X509CertificateLoader.LoadCertificate(server.GetRawCertData());
                return chain.Build(leaf);
            },
        };
        if (certificate != null)
        {
            ssl.ClientCertificates = new X509CertificateCollection { certificate };
            ssl.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }

        return new HttpClient(new SocketsHttpHandler { SslOptions = ssl }, disposeHandler: true)
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    /// <summary>
    /// One call with an empty request message; the gRPC status (from a trailers-only answer, or
    /// the trailers), -1 when a stream started and kept running, or null when TLS refused the
    /// connection.
    /// </summary>
    public static async Task<(int? Status, string Message)> CallAsync(HttpClient client, Uri server, string path)
    {
        var uri = new Uri(server.GetLeftPart(UriPartial.Authority) + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) 
        {
            Content = new ByteArrayContent(new byte[5]),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("grpc-timeout", "10S");
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        }
        catch (HttpRequestException e)
        {
            return (null, "TLS refused: " + e.Message + " " + e.InnerException?.Message);
        }

        using (response)
        {
            if (Header(response.Headers, "grpc-status") is { } early)
                return (int.Parse(early, System.Globalization.CultureInfo.InvariantCulture), Uri.UnescapeDataString(Header(response.Headers, "grpc-message") ?? ""));
            if (response.StatusCode != HttpStatusCode.OK)
                return ((int)response.StatusCode + 1000, "HTTP status");
            // A stream (WatchEvents, Watch) answers with headers and keeps going: it got through.
            if (path.EndsWith("Watch", StringComparison.Ordinal) || path.EndsWith("WatchEvents", StringComparison.Ordinal) || path.EndsWith("WatchProviders", StringComparison.Ordinal))
                return (-1, "stream started");
            await response.Content.ReadAsByteArrayAsync();
            var status = Header(response.TrailingHeaders, "grpc-status");
            return (status == null ? 1000 : int.Parse(status, System.Globalization.CultureInfo.InvariantCulture), Uri.UnescapeDataString(Header(response.TrailingHeaders, "grpc-message") ?? ""));
        }
    }

    private static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}
