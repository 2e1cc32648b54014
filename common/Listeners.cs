using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace MailAgent.Common;

/// <summary>Listen addresses and host:port text, parsed and bound the same way by both daemons.</summary>
internal static class Listeners
{
    /// <summary>Binds each ';'-separated http:// URL: an IP address as given, "localhost" on loopback (port 0 on 127.0.0.1 only), a name on every address.</summary>
    public static void ListenOnUrls(KestrelServerOptions kestrel, string urls)
    {
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var uri = new Uri(url);
            if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip))
                kestrel.Listen(ip, uri.Port);
            else if (uri.IsLoopback)
            {
                // Kestrel cannot bind "localhost" to port 0 (two sockets, one port).
                if (uri.Port == 0)
                    kestrel.Listen(IPAddress.Loopback, 0);
                else
                    kestrel.ListenLocalhost(uri.Port);
            }
            else
                kestrel.ListenAnyIP(uri.Port);
        }
    }

    /// <summary>True for ADDRESS:PORT with an IP address (IPv6 in brackets) and a port 0 to 65535.</summary>
    public static bool TryParseListen(string text, out IPEndPoint endpoint)
    {
        if (IPEndPoint.TryParse(text, out var parsed) && text.Contains(':', StringComparison.Ordinal) && parsed.Port is >= 0 and <= 65535)
        {
            endpoint = parsed;
            return true;
        }

        endpoint = new IPEndPoint(IPAddress.None, 0);
        return false;
    }

    /// <summary>
    /// The gRPC listener of both daemons on ADDRESS:PORT <paramref name="listen"/>: HTTP/2 only, TLS 1.2 or 1.3
    /// with <paramref name="certificate"/>, and client certificates checked by <paramref name="validateClient"/>.
    /// </summary>
    public static void ListenGrpc(KestrelServerOptions kestrel, string listen, X509Certificate2 certificate, Func<X509Certificate2, bool> validateClient) =>
        kestrel.Listen(IPEndPoint.Parse(listen), options =>
        {
            options.Protocols = HttpProtocols.Http2;
            options.UseHttps(https =>
            {
                https.ServerCertificate = certificate;
                https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                // Allow rather than Require, so that a caller without a certificate reaches the
                // authorization middleware, which logs, counts and answers UNAUTHENTICATED. No call runs without one.
                https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                https.ClientCertificateValidation = (client, _, _) => validateClient(client);
            });
        });
}
