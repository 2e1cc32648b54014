using System.Net;
using System.Net.Sockets;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>Learns free 127.0.0.1 TCP ports from the kernel for children that bind them themselves.</summary>
internal static class LoopbackPorts
{
    private static readonly Lock Gate = new();

    // Ports already given to a harness in this process: after release the kernel may hand the same
    // port to the next bind(0), and two instances started in parallel must not share one.
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// Returns <paramref name="count"/> distinct ports that were free a moment ago. The sockets are held
    /// together while the ports are collected, then released so the children can bind them.
    /// </summary>
    public static int[] Allocate(int count)
    {
        var sockets = new List<Socket>();
        try
        {
            var ports = new List<int>(count);
            while (ports.Count < count)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
                lock (Gate)
                {
                    if (HandedOut.Add(port))
                    {
                        ports.Add(port);
                    }
                }
            }

            return [.. ports];
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// Reserves a port on which connections are refused: the socket is bound but never listens, so the
    /// kernel answers a SYN with RST and no other process can take the port while the socket lives.
    /// </summary>
    public static Socket ReserveRefusingPort(out int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }
}
