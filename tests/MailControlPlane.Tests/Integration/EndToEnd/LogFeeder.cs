using System.Globalization;

namespace MailControlPlane.Tests.Integration.EndToEnd;

/// <summary>
/// Writes a Postfix log for one agent: a delivery line every 50 ms with the current time, sent
/// while <see cref="Bad"/> is false, connection refusals and 451 4.7.1 deferrals while it is true.
/// </summary>
internal sealed class LogFeeder : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly string _host;
    private volatile bool _bad;
    private int _n;

    public LogFeeder(string path, string host)
    {
        Path = path;
        _host = host;
        File.WriteAllText(path, "");
        _loop = Task.Run(LoopAsync);
    }

    public string Path { get; }

    public bool Bad
    {
        get => _bad;
        set => _bad = value;
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            await File.AppendAllTextAsync(Path, Line(), _stop.Token).ConfigureAwait(false);
            try
            {
                await Task.Delay(50, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private string Line()
    {
        int n = Interlocked.Increment(ref _n);
        var t = DateTime.Now;
        string now = string.Create(CultureInfo.InvariantCulture, $"{t:MMM} {t.Day,2} {t:HH:mm:ss}");
        string id = (0xB00000 + n).ToString("X", CultureInfo.InvariantCulture);
        string head = $"{now} {_host} postfix/smtp[{4000 + (n % 500)}]: {id}: to=<user{n}@example.net>, ";
        if (!_bad)
            return head + "relay=mx.example.net[203.0.113.25]:25, delay=0.4, delays=0.01/0/0.2/0.19, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n";
        return n % 2 == 0
            ? head + "relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.net[203.0.113.25]:25: Connection refused)\n"
            : head + "relay=mx.example.net[203.0.113.25]:25, delay=0.6, delays=0.01/0/0.3/0.29, dsn=4.7.1, status=deferred (host mx.example.net[203.0.113.25] said: 451 4.7.1 Service unavailable - try again later (in reply to RCPT TO command))\n";
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
            // Stopped mid-write.
        }

        _stop.Dispose();
    }
}
