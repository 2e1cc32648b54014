using System.Net;
using System.Net.Sockets;
using MailAgent.Health.Dns;
using MailAgent.Tests.Integration.Postfix;

namespace MailAgent.Tests.Integration.Dns;

/// <summary>
/// Debian's dnsmasq in the foreground on 127.0.0.1 and a free port, serving only the records given:
/// no upstream, no /etc/hosts, no configuration file, and names under the served domains that have
/// no record answered NXDOMAIN (--local). Disposing it kills it.
/// </summary>
internal sealed class Dnsmasq : IAsyncDisposable
{
    public const string Executable = "/usr/sbin/dnsmasq";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(15);
    private readonly ChildProcess _process;

    private Dnsmasq(ChildProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>host:port for Health:Dns:Resolver.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    public string Output => _process.Output;

    /// <summary>
    /// Starts dnsmasq with <paramref name="records"/> (dnsmasq options such as <c>--txt-record=…</c>),
    /// authoritative-style for <paramref name="localDomains"/>, and waits until it answers
    /// <paramref name="probeTxtName"/>, a TXT name among the records.
    /// </summary>
    public static async Task<Dnsmasq> StartAsync(IEnumerable<string> records, IEnumerable<string> localDomains, string probeTxtName, CancellationToken cancellationToken = default)
    {
        var fixedArguments = records.Concat(localDomains.Select(d => $"--local=/{d}/")).ToArray();
        string lastFailure = "";
        // The port is learned from the kernel and released for dnsmasq to bind; another process may take
        // it in between, so a dnsmasq that exits at once is retried on a new port.
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int port = FreeUdpAndTcpPort();
            var process = ChildProcess.Start("dnsmasq", Executable,
            [
                "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--bind-interfaces",
                "--listen-address=127.0.0.1", $"--port={port}", "--pid-file", "--log-facility=-", "--log-queries",
                "--cache-size=0", "--user=root", .. fixedArguments,
            ], new Dictionary<string, string?>());
            var dnsmasq = new Dnsmasq(process, port);
            var lookup = new DnsClientLookup(new DnsCheckOptions { Resolver = dnsmasq.Endpoint, Timeout = TimeSpan.FromMilliseconds(500) });
            try
            {
                await Eventually.UntilAsync(
                    async ct => process.HasExited || (await lookup.TxtAsync(probeTxtName, ct)).Status == DnsLookupStatus.Found,
                    done => done,
                    ReadyTimeout,
                    _ => $"dnsmasq on {dnsmasq.Endpoint} does not answer TXT {probeTxtName}: {process.Describe()}",
                    cancellationToken);
            }
            catch
            {
                await dnsmasq.DisposeAsync();
                throw;
            }

            if (!process.HasExited)
                return dnsmasq;
            lastFailure = process.Describe();
            await dnsmasq.DisposeAsync();
        }

        throw new InvalidOperationException($"dnsmasq did not start: {lastFailure}");
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    /// <summary>A port free for both UDP and TCP on 127.0.0.1 a moment ago (dnsmasq binds both).</summary>
    private static int FreeUdpAndTcpPort()
    {
        while (true)
        {
            int port = LoopbackPorts.Allocate(1)[0];
            try
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // taken for UDP: ask for another
            }
        }
    }

    /// <summary>A TXT record option; dnsmasq splits the text at commas into strings of at most 255 bytes, as long DKIM keys need.</summary>
    public static string TxtRecord(string name, string text)
    {
        var strings = new List<string>();
        for (int i = 0; i < text.Length; i += 200)
            strings.Add(text.Substring(i, Math.Min(200, text.Length - i)));
        return $"--txt-record={name},{string.Join(',', strings)}";
    }

    /// <summary>A PTR record option for <paramref name="address"/>.</summary>
    public static string PtrRecord(IPAddress address, string name) => $"--ptr-record={address.GetArpaName().TrimEnd('.')},{name}";
}
