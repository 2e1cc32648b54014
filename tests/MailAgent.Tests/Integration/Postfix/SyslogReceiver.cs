using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>
/// A minimal syslog daemon for one program: receives syslog(3) datagrams on a Unix socket and appends
/// them to a file in the classic format rsyslog writes (<c>Mmm dd HH:MM:SS host tag[pid]: text</c>).
/// After <see cref="ForwardTo"/> it also hands each line to Postfix's postlogd.
/// </summary>
internal sealed partial class SyslogReceiver : IAsyncDisposable
{
    /// <summary>Lines kept for postlogd until <see cref="ForwardTo"/> is called (OpenDKIM logs a few at start).</summary>
    private const int MaxPending = 1000;

    private readonly Socket _socket;
    private readonly FileStream _file;
    private readonly string _hostName;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Lock _forwarding = new();
    private readonly Queue<byte[]> _pending = new();
    private Socket? _postlog;

    private SyslogReceiver(Socket socket, FileStream file, string hostName)
    {
        _socket = socket;
        _file = file;
        _hostName = hostName;
        _loop = Task.Run(ReceiveLoopAsync);
    }

    /// <summary>Binds <paramref name="socketPath"/> before returning, so a sender started next finds it.</summary>
    public static SyslogReceiver Start(string socketPath, string logPath, string hostName)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(socketPath));
            var file = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            return new SyslogReceiver(socket, file, hostName);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Lines that could not be handed to postlogd (it was gone, or too many arrived before it was there).</summary>
    public int UnforwardedLines { get; private set; }

    /// <summary>
    /// From now on also sends every line, and first those received so far, to postlogd's datagram socket
    /// (<c>queue/public/postlog</c>). postlogd takes a datagram as a finished log line, the way Postfix's
    /// own programs send it, and is the only writer of <c>maillog_file</c>: the lines land there whole,
    /// between Postfix's, as with a system syslog daemon that collects both programs into one file.
    /// </summary>
    public void ForwardTo(string postlogSocketPath)
    {
        var postlog = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            postlog.Connect(new UnixDomainSocketEndPoint(postlogSocketPath));
        }
        catch
        {
            postlog.Dispose();
            throw;
        }

        lock (_forwarding)
        {
            _postlog = postlog;
            while (_pending.TryDequeue(out var line))
            {
                Forward(line);
            }
        }
    }

    /// <summary>Turns <c>&lt;PRI&gt;Mmm dd HH:MM:SS tag[pid]: text</c> into a file line with a host name.</summary>
    internal static string Format(ReadOnlySpan<byte> datagram, string hostName)
    {
        var text = Encoding.UTF8.GetString(datagram).TrimEnd('\n', '\0', '\r');
        var match = SyslogDatagram().Match(text);
        return match.Success
            ? $"{match.Groups["time"].Value} {hostName} {match.Groups["rest"].Value}"
            : text;
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        while (!_stop.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            var line = Encoding.UTF8.GetBytes(Format(buffer.AsSpan(0, received), _hostName) + "\n");
            await _file.WriteAsync(line);
            await _file.FlushAsync();
            lock (_forwarding)
            {
                if (_postlog is not null)
                {
                    Forward(line);
                }
                else if (_pending.Count < MaxPending)
                {
                    _pending.Enqueue(line);
                }
                else
                {
                    UnforwardedLines++;
                }
            }
        }
    }

    /// <summary>One datagram per line, without the newline (postlogd appends it).</summary>
    private void Forward(byte[] line)
    {
        try
        {
            _postlog!.Send(line.AsSpan(0, line.Length - 1));
        }
        catch (SocketException)
        {
            // Postfix stopped before OpenDKIM (disposal order); the line is still in the receiver's own file.
            UnforwardedLines++;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _socket.Dispose();
        _postlog?.Dispose();
        await _file.DisposeAsync();
        _stop.Dispose();
    }

    [GeneratedRegex(@"^<\d{1,3}>(?<time>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d) (?<rest>.*)$", RegexOptions.Singleline)]
    private static partial Regex SyslogDatagram();
}
