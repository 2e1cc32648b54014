using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

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
}
