using System.Globalization;
using System.Net;

namespace MailAgent.Common;

/// <summary>Parses host:port (IPv6 in brackets).</summary>
internal static class TcpEndpoint
{
    public static bool TryParse(string text, out string host, out int port)
    {
        host = "";
        port = 0;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            return false;
        host = text[..colon].Trim('[', ']');
        return host.Length > 0 && (IPAddress.TryParse(host, out _) || Uri.CheckHostName(host) != UriHostNameType.Unknown);
    }
}
