using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MailAgent.Health.Checks;

/// <summary>
/// One milter address in any form Postfix accepts: <c>inet:host:port</c>, <c>inet6:[addr]:port</c>,
/// <c>unix:/path</c>, <c>local:/path</c> (OpenDKIM's spelling of unix) and bare <c>host:port</c>.
/// </summary>
internal sealed record MilterAddress(string Text, string? Host, int Port, string? SocketPath)
{
    public bool IsUnix => SocketPath != null;

    public static bool TryParse(string text, out MilterAddress address)
    {
        address = new MilterAddress(text, null, 0, null);
        text = text.Trim();
        if (text.StartsWith("unix:", StringComparison.OrdinalIgnoreCase) || text.StartsWith("local:", StringComparison.OrdinalIgnoreCase))
        {
            string path = text[(text.IndexOf(':', StringComparison.Ordinal) + 1)..];
            if (path.Length == 0)
                return false;
            address = new MilterAddress(text, null, 0, path);
            return true;
        }

        string hostPort = text;
        if (text.StartsWith("inet:", StringComparison.OrdinalIgnoreCase))
            hostPort = text[5..];
        else if (text.StartsWith("inet6:", StringComparison.OrdinalIgnoreCase))
            hostPort = text[6..];
        // OpenDKIM's own form, port@host, for people who copy its Socket line.
        int at = hostPort.IndexOf('@', StringComparison.Ordinal);
        if (at > 0 && int.TryParse(hostPort.AsSpan(0, at), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            hostPort = hostPort[(at + 1)..] + ":" + hostPort[..at];
        if (!TcpEndpoint.TryParse(hostPort, out var host, out var port))
            return false;
        address = new MilterAddress(text, host, port, null);
        return true;
    }

    /// <summary>
    /// The addresses of a Postfix milter list (smtpd_milters, non_smtpd_milters): separated by commas or
    /// white space, an entry possibly in <c>{ address, name=value ... }</c> form.
    /// </summary>
    public static IReadOnlyList<string> SplitList(string list)
    {
        var result = new List<string>();
        int i = 0;
        while (i < list.Length)
        {
            char c = list[i];
            if (char.IsWhiteSpace(c) || c == ',')
            {
                i++;
                continue;
            }

            if (c == '{')
            {
                int end = list.IndexOf('}', i);
                string inner = end < 0 ? list[(i + 1)..] : list[(i + 1)..end];
                string first = inner.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
                if (first.Length > 0)
                    result.Add(first);
                i = end < 0 ? list.Length : end + 1;
                continue;
            }

            int start = i;
            while (i < list.Length && !char.IsWhiteSpace(list[i]) && list[i] != ',')
                i++;
            result.Add(list[start..i]);
        }

        return result;
    }

    /// <summary>
    /// Where to connect. A unix path that does not exist as given is looked up under the queue directory too:
    /// a chrooted smtpd (Debian's default) resolves <c>unix:/opendkim/opendkim.sock</c> inside /var/spool/postfix.
    /// </summary>
    public EndPoint EndPoint(string? queueDirectory)
    {
        if (SocketPath == null)
            return IPAddress.TryParse(Host, out var ip) ? new IPEndPoint(ip, Port) : new DnsEndPoint(Host!, Port);
        string path = SocketPath;
        if (!File.Exists(path) && !string.IsNullOrEmpty(queueDirectory))
        {
            string chrooted = Path.Join(queueDirectory, path);
            if (File.Exists(chrooted))
                path = chrooted;
        }

        return new UnixDomainSocketEndPoint(path);
    }

    public override string ToString() => Text;
}
