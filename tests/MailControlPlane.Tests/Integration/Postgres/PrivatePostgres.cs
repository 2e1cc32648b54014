using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace MailControlPlane.Tests.Integration.Postgres;

/// <summary>
/// A throwaway PostgreSQL server (the Debian <c>postgresql</c> package) for one test: its own data
/// directory under a temporary directory, listening on 127.0.0.1 on a free port with its unix socket
/// in that directory. Tests run as root and postgres refuses root, so every server binary runs as
/// the <c>postgres</c> user through <c>setpriv</c>. Disposing stops the server (immediately) and
/// removes the directory; no process is left behind.
/// </summary>
internal sealed class PrivatePostgres : IAsyncDisposable
{
    private const string ServerUser = "postgres";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string _binDirectory;
    private bool _initialized;
    private bool _disposed;

    private PrivatePostgres(string root, string binDirectory, int port)
    {
        Root = root;
        _binDirectory = binDirectory;
        Port = port;
    }

    /// <summary>The temporary directory holding the data directory, the socket and the server log.</summary>
    public string Root { get; }

    public string DataDirectory => Path.Combine(Root, "data");

    public string SocketDirectory => Root;

    public string LogPath => Path.Combine(Root, "server.log");

    public int Port { get; }

    /// <summary>True between a successful start and a stop.</summary>
    public bool IsRunning { get; private set; }

    /// <summary>TCP on 127.0.0.1, trust authentication, the <c>postgres</c> database. No pooling, so a
    /// stopped server is seen at once by a new connection instead of through a stale pooled one.</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = ServerUser,
        Database = "postgres",
        Pooling = false,
        Timeout = 5,
    }.ConnectionString;

    /// <summary>True when the Debian PostgreSQL binaries are installed (tests skip with a reason otherwise).</summary>
    public static bool IsAvailable => FindBinDirectory() is not null;

    /// <summary>Creates the directory and a free port; <see cref="StartAsync"/> runs initdb and the server.</summary>
    public static PrivatePostgres Create()
    {
        var bin = FindBinDirectory()
            ?? throw new InvalidOperationException("PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/postgres (apt-get install postgresql).");
        var root = Path.Combine(Path.GetTempPath(), "cp-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        return new PrivatePostgres(root, bin, FreeLoopbackPort());
    }

    /// <summary>Creates and starts a server.</summary>
    public static async Task<PrivatePostgres> StartNewAsync(CancellationToken cancellationToken = default)
    {
        var server = Create();
        try
        {
            await server.StartAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs initdb on the first call, then starts the server and waits until it accepts connections.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsRunning)
        {
            return;
        }

        if (!_initialized)
        {
            await RunAsync("chown", [ServerUser + ":" + ServerUser, Root], cancellationToken);
            await RunAsync("chmod", ["0700", Root], cancellationToken);
            await RunAsServerAsync(
                "initdb",
                ["-D", DataDirectory, "-U", ServerUser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
                cancellationToken);
            _initialized = true;
        }

        var serverOptions = string.Join(
            ' ',
            "-p", Port.ToString(CultureInfo.InvariantCulture),
            "-k", SocketDirectory,
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=50",
            "-c", "shared_buffers=16MB");
        await RunAsServerAsync(
            "pg_ctl",
            ["-D", DataDirectory, "-l", LogPath, "-w", "-t", ((int)StartTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture), "-o", serverOptions, "start"],
            cancellationToken);
        IsRunning = true;
        await WaitUntilAcceptingAsync(cancellationToken);
    }

    /// <summary>Stops the server (fast shutdown: open sessions are ended, their advisory locks released) and keeps the data directory.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!IsRunning)
        {
            return;
        }

        await RunAsServerAsync("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], cancellationToken);
        IsRunning = false;
    }

    /// <summary>Starts the server again on the same data directory and port, after <see cref="StopAsync"/>.</summary>
    public Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        if (!_initialized)
        {
            throw new InvalidOperationException("StartAgainAsync needs a server that was started before.");
        }

        return StartAsync(cancellationToken);
    }

    /// <summary>Opens a new connection to the server.</summary>
    public async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = new NpgsqlConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The server's process id from postmaster.pid, or null when no server runs on the data directory.</summary>
    public int? ServerProcessId()
    {
        var pidFile = Path.Combine(DataDirectory, "postmaster.pid");
        if (!File.Exists(pidFile))
        {
            return null;
        }

        var first = File.ReadLines(pidFile).FirstOrDefault();
        return int.TryParse(first, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) && Directory.Exists("/proc/" + pid)
            ? pid
            : null;
    }

    /// <summary>The last lines of the server log, for failure messages.</summary>
    public string LogTail(int lines = 30) =>
        File.Exists(LogPath) ? string.Join('\n', File.ReadLines(LogPath).TakeLast(lines)) : "(no server log)";

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_initialized && Directory.Exists(DataDirectory))
        {
            var pid = ServerProcessId();
            if (pid is not null)
            {
                // Immediate: the test is over, nothing needs a clean checkpoint.
                await TryRunAsServerAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"]);
                await KillIfAliveAsync(pid.Value);
            }
        }

        IsRunning = false;
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A backend may still be removing its socket lock file; one more try after it is gone.
            await Task.Delay(200);
            Directory.Delete(Root, recursive: true);
        }
    }

    private static async Task KillIfAliveAsync(int pid)
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 10;
        while (Directory.Exists("/proc/" + pid) && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(50);
        }

        if (Directory.Exists("/proc/" + pid))
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
            catch (ArgumentException)
            {
                // Exited between the check and the kill.
            }
        }
    }

    private async Task WaitUntilAcceptingAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(Stopwatch.Frequency * StartTimeout.TotalSeconds);
        while (true)
        {
            try
            {
                await using var connection = await OpenAsync(cancellationToken);
                return;
            }
            catch (NpgsqlException) when (Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(100, cancellationToken);
            }
            catch (NpgsqlException e)
            {
                throw new InvalidOperationException($"PostgreSQL on port {Port} did not accept connections: {e.Message}\n{LogTail()}", e);
            }
        }
    }

    private Task RunAsServerAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        RunAsync("setpriv", ServerUserPrefix(tool, arguments), cancellationToken);

    private async Task TryRunAsServerAsync(string tool, IReadOnlyList<string> arguments)
    {
        try
        {
            await RunAsync("setpriv", ServerUserPrefix(tool, arguments), CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // Already stopped; KillIfAliveAsync makes sure.
        }
    }

    private string[] ServerUserPrefix(string tool, IReadOnlyList<string> arguments) =>
        ["--reuid=" + ServerUser, "--regid=" + ServerUser, "--init-groups", "--", Path.Combine(_binDirectory, tool), .. arguments];

    private async Task RunAsync(string executable, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // pg_ctl's server inherits the environment; keep its locale predictable and its home the temp dir.
        start.Environment["LC_ALL"] = "C";
        start.Environment["HOME"] = Root;
        using var process = Process.Start(start)
            ?? throw new InvalidOperationException($"could not start {executable}");

        // pg_ctl start leaves the server holding inherited pipes open; read to the end only for tools that exit with theirs.
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = await Task.WhenAny(Task.WhenAll(stdout, stderr), Task.Delay(TimeSpan.FromSeconds(2), cancellationToken)) is Task<string[]> both
            ? string.Join(' ', (await both).Select(s => s.Trim()))
            : "(output still held open by a child)";
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"'{executable} {string.Join(' ', arguments)}' exited {process.ExitCode}: {output}\n{LogTail()}");
        }
    }

    private static string? FindBinDirectory()
    {
        const string Root = "/usr/lib/postgresql";
        if (!Directory.Exists(Root))
        {
            return null;
        }

        return Directory.GetDirectories(Root)
            .Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "postgres")))
            .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0)
            .FirstOrDefault();
    }

    private static int FreeLoopbackPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
