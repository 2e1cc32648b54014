using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MailAgent.Tests.Integration.EndToEnd;

/// <summary>One SMTP reply: its code and its last line's text.</summary>
internal readonly record struct SmtpReply(int Code, string Text)
{
    public override string ToString() => $"{Code} {Text}";
}

/// <summary>
/// A hand-driven SMTP client session on 127.0.0.1, for what smtp-source cannot do: a chosen HELO name
/// or sender, commands that are meant to be refused, and sessions that end without QUIT.
/// </summary>
internal sealed class SmtpConversation : IAsyncDisposable
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(30);

    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private SmtpConversation(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
        _reader = new StreamReader(_stream, Encoding.ASCII, detectEncodingFromByteOrderMarks: false, leaveOpen: true);
    }

    /// <summary>Connects and reads the greeting, which must be 220.</summary>
    public static async Task<SmtpConversation> OpenAsync(int port, CancellationToken cancellationToken = default)
    {
        var client = new TcpClient(AddressFamily.InterNetwork);
        SmtpConversation? conversation = null;
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
            conversation = new SmtpConversation(client);
            var greeting = await conversation.ReadReplyAsync(cancellationToken);
            if (greeting.Code != 220)
            {
                throw new InvalidOperationException($"port {port} greeted with '{greeting}'");
            }

            return conversation;
        }
        catch
        {
            if (conversation is not null)
            {
                await conversation.DisposeAsync();
            }
            else
            {
                client.Dispose();
            }

            throw;
        }
    }

    /// <summary>Sends one command line and returns the reply.</summary>
    public async Task<SmtpReply> SendAsync(string command, CancellationToken cancellationToken = default)
    {
        await _stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), cancellationToken);
        return await ReadReplyAsync(cancellationToken);
    }

    /// <summary>
    /// DATA, then (on 354) the message and the final dot. Returns the reply to DATA when it is not 354,
    /// else the reply to the end of the message.
    /// </summary>
    public async Task<SmtpReply> SendDataAsync(string message, CancellationToken cancellationToken = default)
    {
        var data = await SendAsync("DATA", cancellationToken);
        if (data.Code != 354)
        {
            return data;
        }

        // Dot-stuffing is not needed for the messages tests write (no line starts with '.').
        var text = message.ReplaceLineEndings("\r\n");
        if (!text.EndsWith("\r\n", StringComparison.Ordinal))
        {
            text += "\r\n";
        }

        return await SendAsync(text + ".", cancellationToken);
    }

    /// <summary>QUIT, then close.</summary>
    public async Task QuitAsync(CancellationToken cancellationToken = default)
    {
        var reply = await SendAsync("QUIT", cancellationToken);
        if (reply.Code != 221)
        {
            throw new InvalidOperationException($"QUIT answered '{reply}'");
        }
    }

    private async Task<SmtpReply> ReadReplyAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReplyTimeout);
        while (true)
        {
            var line = await _reader.ReadLineAsync(timeout.Token)
                       ?? throw new IOException("the server closed the connection");
            // "250-first line" continues, "250 last line" ends the reply.
            if (line.Length >= 4 && line[3] == '-')
            {
                continue;
            }

            if (line.Length < 3 || !int.TryParse(line.AsSpan(0, 3), out var code))
            {
                throw new IOException($"not an SMTP reply: '{line}'");
            }

            return new SmtpReply(code, line.Length > 4 ? line[4..] : "");
        }
    }

    /// <summary>Closes the connection, without QUIT unless <see cref="QuitAsync"/> was called.</summary>
    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
