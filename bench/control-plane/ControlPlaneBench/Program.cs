using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ControlPlaneBench;
using MailAgent.Protos.V1;
using Microsoft.Data.Sqlite;

// bench/control-plane: N simulated agents (in-process gRPC servers on loopback, mutual TLS) against
// the real control plane (a child process); CPU and RSS idle and under load, connections, and the
// time from an agent's event to its routing-table row changing. See bench/control-plane/README.md.
var options = BenchOptions.Parse(args);
var results = new List<RunResult>();
foreach (var n in options.Agents)
{
    Console.WriteLine($"== {n} agents, control plane {options.ControlPlane} ({options.Label})");
    results.Add(await Bench.RunAsync(n, options));
}

Directory.CreateDirectory(options.OutputDirectory);
var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
var file = Path.Combine(options.OutputDirectory, $"control-plane-{options.Label}-{stamp}.json");
await File.WriteAllTextAsync(file, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true, IncludeFields = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
Console.WriteLine();
Console.WriteLine("| run | agents | connected | first row, all providers | idle CPU (% of a core) | idle RSS | load CPU | load RSS | events/s | p50 | p95 | p99 | probes | GetStatus calls/s (load) | warnings logged | load avg |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
foreach (var r in results)
    Console.WriteLine(r.Row(options.Label));
Console.WriteLine($"results: {file}");
return 0;

internal sealed record BenchOptions(IReadOnlyList<int> Agents, int IdleSeconds, int LoadSeconds, string ControlPlane, string Label, string OutputDirectory, int EventsPerSecond)
{
    public static BenchOptions Parse(string[] args)
    {
        string Get(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        var root = Root();
        return new BenchOptions(
            Get("--agents", "1000,5000").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList(),
            int.Parse(Get("--idle-seconds", "30"), CultureInfo.InvariantCulture),
            int.Parse(Get("--load-seconds", "30"), CultureInfo.InvariantCulture),
            Path.GetFullPath(Get("--control-plane", Path.Combine(root, "control-plane/src/MailControlPlane/bin/Release/net10.0/mailagent-control-plane.dll"))),
            Get("--label", "this-branch"),
            Get("--out", Path.Combine(root, "bench/results")),
            int.Parse(Get("--events-per-second", "10"), CultureInfo.InvariantCulture));
    }

    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "MailAgent.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }
}

internal sealed class RunResult
{
    public int Agents;
    public int Connected;
    public int StreamsOpen;
    public double FirstAllRowsSeconds;
    public double IdleCpu;
    public double IdleRssMb;
    public double LoadCpu;
    public double LoadRssMb;
    public double EventsPerSecond;
    public double P50Ms;
    public double P95Ms;
    public double P99Ms;
    public int Probes;
    public int ProbesTimedOut;
    public double StatusCallsPerSecondLoad;
    public double BenchCpuLoad;
    public string LoadAverage = "";
    public int WarningsLogged;

    public string Row(string label) => string.Create(CultureInfo.InvariantCulture,
        $"| {label} | {Agents} | {Connected} ({StreamsOpen} streams) | {FirstAllRowsSeconds:0.0} s | {IdleCpu:0.0} % | {IdleRssMb:0} MB | {LoadCpu:0.0} % | {LoadRssMb:0} MB | {EventsPerSecond:0} | {P50Ms:0} ms | {P95Ms:0} ms | {P99Ms:0} ms | {Probes}{(ProbesTimedOut > 0 ? $" ({ProbesTimedOut} timed out)" : "")} | {StatusCallsPerSecondLoad:0.0} | {WarningsLogged} | {LoadAverage} (bench itself {BenchCpuLoad:0} %) |");
}

internal static class Bench
{
    private const double TicksPerSecond = 100;

    public static async Task<RunResult> RunAsync(int count, BenchOptions options)
    {
        var result = new RunResult { Agents = count };
        string dir = Path.Combine(Path.GetTempPath(), $"cp-bench-{count}-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(dir);
        try
        {
            var pki = Pki.Create(Path.Combine(dir, "pki"));
            var ports = FreePorts(count + 1);
            int httpPort = ports[^1];
            var fleet = new Fleet(ports.Take(count).ToList()) { EventsPerSecond = options.EventsPerSecond };
            await using var agents = FakeAgentHost.Build(fleet, pki.Server, pki.Ca);
            await agents.StartAsync();
            string database = Path.Combine(dir, "routing.db");
            CreateDatabase(database, count);
            string config = Path.Combine(dir, "control-plane.json");
            WriteConfig(config, fleet, pki.CaFile, pki.ClientCertificate, pki.ClientKey, httpPort, database);

            // A .dll runs on the .NET runtime (the build output); anything else is an executable, e.g. the
            // Native AOT binary the package ships (make bench-control-plane publishes one).
            bool managed = options.ControlPlane.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
            var info = new ProcessStartInfo(managed ? "dotnet" : options.ControlPlane) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (managed ? new[] { options.ControlPlane } : []).Concat(["run", "--config", config]))
                info.ArgumentList.Add(a);
            var started = Stopwatch.StartNew();
            using var process = Process.Start(info) ?? throw new InvalidOperationException(info.FileName + " did not start");
            var log = new StringBuilder();
            process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                // Every provider's first row.
                while (Scalar(database, "SELECT COUNT(*) FROM messaging_providers WHERE json_extract(config, '$.health_score') IS NOT NULL") < count)
                {
                    if (process.HasExited)
                        throw new InvalidOperationException("the control plane exited:\n" + log);
                    if (started.Elapsed > TimeSpan.FromMinutes(5))
                        throw new TimeoutException("not every provider had a row after 5 minutes");
                    await Task.Delay(200);
                }

                result.FirstAllRowsSeconds = started.Elapsed.TotalSeconds;
                Console.WriteLine($"  every provider's row written after {result.FirstAllRowsSeconds:0.0} s");

                result.Connected = await ConnectedAsync(httpPort);
                result.StreamsOpen = Volatile.Read(ref fleet.OpenStreams);

                // Load: every agent streams its events; latency probes run meanwhile.
                fleet.Load = true;
                await Task.Delay(TimeSpan.FromSeconds(5));
                using var stopProbes = new CancellationTokenSource();
                var shuffled = fleet.Agents.OrderBy(_ => Random.Shared.Next()).ToList();
                var probes = Task.WhenAll(Enumerable.Range(0, 4).Select(w => ProbeAsync(shuffled.Where((_, i) => i % 4 == w).ToList(), database, stopProbes.Token)));
                long sentBefore = Interlocked.Read(ref fleet.EventsSent);
                long statusBefore = Interlocked.Read(ref fleet.StatusCalls);
                double loadCpu, loadRss, benchCpu;
                (loadCpu, loadRss, benchCpu, _) = await SampleAsync(process.Id, options.LoadSeconds, fleet);
                result.LoadCpu = loadCpu;
                result.LoadRssMb = loadRss;
                result.BenchCpuLoad = benchCpu;
                result.EventsPerSecond = (Interlocked.Read(ref fleet.EventsSent) - sentBefore) / (double)options.LoadSeconds;
                result.StatusCallsPerSecondLoad = (Interlocked.Read(ref fleet.StatusCalls) - statusBefore) / (double)options.LoadSeconds;
                await stopProbes.CancelAsync();
                var parts = await probes;
                var latencies = parts.SelectMany(p => p.Latencies).ToList();
                int timedOut = parts.Sum(p => p.TimedOut);
                fleet.Load = false;
                latencies.Sort();
                result.Probes = latencies.Count;
                result.ProbesTimedOut = timedOut;
                result.P50Ms = Percentile(latencies, 0.50);
                result.P95Ms = Percentile(latencies, 0.95);
                result.P99Ms = Percentile(latencies, 0.99);
                result.LoadAverage = File.ReadAllText("/proc/loadavg").Split(' ')[0];
                // Idle after the load (steady state: the start-up's JIT and TLS work is over): connected, heartbeats only.
                await Task.Delay(TimeSpan.FromSeconds(10));
                (result.IdleCpu, result.IdleRssMb, _, _) = await SampleAsync(process.Id, options.IdleSeconds, fleet);
                Console.WriteLine($"  idle: {result.IdleCpu:0.0} % of a core, {result.IdleRssMb:0} MB RSS, {result.Connected} connected");
                Console.WriteLine($"  load: {result.LoadCpu:0.0} % of a core, {result.LoadRssMb:0} MB RSS, {result.EventsPerSecond:0} events/s; event -> row p50 {result.P50Ms:0} ms, p95 {result.P95Ms:0} ms, p99 {result.P99Ms:0} ms ({result.Probes} probes, {timedOut} timed out)");
            }
            finally
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }

                lock (log)
                    {
                    Directory.CreateDirectory(options.OutputDirectory);
                    File.WriteAllText(Path.Combine(options.OutputDirectory, $"control-plane-{options.Label}-{count}.log"), log.ToString());
                }

                result.WarningsLogged = log.ToString().Split('\n').Count(l => l.Contains(" WRN ", StringComparison.Ordinal));
            }

            await agents.StopAsync();
            return result;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Flips one agent's postfix check to unhealthy at a time (a HealthChange event on its stream) and
    /// times until its provider's row changes; each agent is probed once.
    /// </summary>
    private static async Task<(List<double> Latencies, int TimedOut)> ProbeAsync(List<FakeAgent> order, string database, CancellationToken stop)
    {
        var latencies = new List<double>();
        int timedOut = 0;
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly }.ConnectionString);
        await connection.OpenAsync(CancellationToken.None);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT json_extract(config, '$.health_score') FROM messaging_providers WHERE provider_name = @name";
        var name = command.Parameters.Add("@name", SqliteType.Text);
        foreach (var agent in order)
        {
            if (stop.IsCancellationRequested)
                break;
            name.Value = $"bench-{agent.Index:00000}";
            var before = await command.ExecuteScalarAsync(CancellationToken.None);
            agent.PostfixUnhealthy = true;
            var sent = Stopwatch.GetTimestamp();
            agent.Pending.Enqueue(new HealthChangeEvent { Name = "postfix", Status = HealthStatus.Unhealthy, Reason = "master not running (bench probe)" });
            bool changed = false;
            while (Stopwatch.GetElapsedTime(sent) < TimeSpan.FromSeconds(20))
            {
                var now = await command.ExecuteScalarAsync(CancellationToken.None);
                if (!Equals(now, before))
                {
                    changed = true;
                    break;
                }

                await Task.Delay(10, CancellationToken.None);
            }

            if (changed)
                latencies.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            else
                timedOut++;
            agent.PostfixUnhealthy = false;
            agent.Pending.Enqueue(new HealthChangeEvent { Name = "postfix", Status = HealthStatus.Healthy, Reason = "running" });
            try
            {
                await Task.Delay(250, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return (latencies, timedOut);
    }

    /// <summary>CPU (% of one core) and peak RSS of the control plane over <paramref name="seconds"/>, and the bench's own CPU.</summary>
    private static async Task<(double Cpu, double RssMb, double BenchCpu, int Unused)> SampleAsync(int pid, int seconds, Fleet fleet)
    {
        _ = fleet;
        long cpu0 = CpuTicks(pid);
        var self = Process.GetCurrentProcess();
        var self0 = self.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        double peak = 0;
        for (int i = 0; i < seconds; i++)
        {
            await Task.Delay(1000);
            peak = Math.Max(peak, RssMb(pid));
        }

        long cpu1 = CpuTicks(pid);
        self.Refresh();
        var elapsed = clock.Elapsed.TotalSeconds;
        return ((cpu1 - cpu0) / TicksPerSecond / elapsed * 100, peak, (self.TotalProcessorTime - self0).TotalSeconds / elapsed * 100, 0);
    }

    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static double RssMb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }

        return 0;
    }

    private static async Task<int> ConnectedAsync(int httpPort)
    {
        using var http = new HttpClient();
        try
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{httpPort}/health")));
            return doc.RootElement.GetProperty("agentsConnected").GetInt32();
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>
    /// Ports below the ephemeral range (32768 and up on Linux), free right now: the control plane's
    /// own thousands of outgoing connections take ephemeral ports and must not collide with them.
    /// </summary>
    private static List<int> FreePorts(int count)
    {
        var ports = new List<int>();
        for (int port = 12000; port < 32768 && ports.Count < count; port++)
        {
            var listener = new TcpListener(IPAddress.Loopback, port);
            try
            {
                listener.Start();
                ports.Add(port);
            }
            catch (SocketException)
            {
                // Taken: the next one.
            }
            finally
            {
                listener.Stop();
            }
        }

        return ports.Count == count ? ports : throw new InvalidOperationException($"only {ports.Count} free ports between 12000 and 32767");
    }

    private static void CreateDatabase(string path, int count)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString);
        connection.Open();
        // WAL, so that the bench's readers never hold up the control plane's writes (and the other way round).
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode=WAL";
            wal.ExecuteNonQuery();
        }

        using var transaction = connection.BeginTransaction();
        using (var create = connection.CreateCommand())
        {
            create.Transaction = transaction;
            // The same tables the control plane creates in its SQLite file (docs: routing-table.sql).
            create.CommandText = """
                CREATE TABLE messaging_providers (
                  id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id INTEGER,
                  provider_type VARCHAR(50) NOT NULL CHECK (provider_type IN ('email', 'sms', 'whatsapp', 'social')),
                  provider_name VARCHAR(50) NOT NULL, credentials_encrypted TEXT NOT NULL, credentials_iv VARCHAR(255) NOT NULL,
                  config TEXT DEFAULT '{}', is_active BOOLEAN DEFAULT 1,
                  created_at TIMESTAMP DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')), updated_at TIMESTAMP DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
                  deleted_at TIMESTAMP, last_used_at TIMESTAMP);
                CREATE TABLE messaging_provider_health_logs (
                  id INTEGER PRIMARY KEY AUTOINCREMENT, provider_id BIGINT REFERENCES messaging_providers(id) ON DELETE CASCADE,
                  check_type VARCHAR(50) NOT NULL, status VARCHAR(50) NOT NULL, response_time_ms INTEGER, error_message TEXT,
                  metadata TEXT, checked_at TIMESTAMP DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
                """;
            create.ExecuteNonQuery();
        }

        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config) VALUES ('email', @name, '', '', json_object('priority', @priority, 'weight', 50))";
        var name = insert.Parameters.Add("@name", SqliteType.Text);
        var priority = insert.Parameters.Add("@priority", SqliteType.Integer);
        for (int i = 1; i <= count; i++)
        {
            name.Value = $"bench-{i:00000}";
            priority.Value = i;
            insert.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    private static long Scalar(string database, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    private static void WriteConfig(string path, Fleet fleet, string ca, string certificate, string key, int httpPort, string database)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartArray("Agents");
        foreach (var a in fleet.Agents)
        {
            json.WriteStartObject();
            json.WriteString("Name", $"agent-{a.Index:00000}");
            json.WriteString("Address", $"https://127.0.0.1:{a.Port}");
            json.WriteString("Region", "bench");
            json.WriteString("ProviderName", $"bench-{a.Index:00000}");
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartObject("Tls");
        json.WriteString("CaFile", ca);
        json.WriteString("CertificateFile", certificate);
        json.WriteString("KeyFile", key);
        json.WriteEndObject();
        json.WriteStartObject("Http");
        json.WriteString("Urls", $"http://127.0.0.1:{httpPort}");
        json.WriteEndObject();
        json.WriteStartObject("Routing");
        json.WriteString("SqlitePath", database);
        json.WriteBoolean("SeedStandalone", false);
        json.WriteEndObject();
        json.WriteStartObject("Log");
        json.WriteString("FilePath", "");
        json.WriteString("Level", "Warning");
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
