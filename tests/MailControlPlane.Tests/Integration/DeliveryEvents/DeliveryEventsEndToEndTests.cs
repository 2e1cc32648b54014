using System.Diagnostics;
using System.IO.Compression;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using MailAgent.Protos.V1;
using MailControlPlane.Tests.Integration.EndToEnd;
using MailControlPlane.Tests.Integration.Postgres;
using Npgsql;
using Xunit.Abstractions;

namespace MailControlPlane.Tests.Integration.DeliveryEvents;

/// <summary>
/// The bundled corpus (real Postfix 3.7, 347k lines) written in chunks into a log a real agent
/// follows, streamed to a real control-plane process into a private PostgreSQL; the agent and the
/// control plane are each killed with SIGKILL mid-stream and restarted. The events table must then
/// hold exactly pflogsumm's and the ground truth's counts, every bounce classified, and no address
/// from the log, neither in the table nor on the gRPC stream.
/// </summary>
public sealed partial class DeliveryEventsEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string HashKey = "test-recipient-hash-key-0123456789";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cp-events-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly int _agentPort = AgentDaemon.FreePort();
    private PrivatePostgres? _postgres;
    private AgentDaemon? _agent;
    private Process? _controlPlane;
    private readonly StringBuilder _controlPlaneOutput = new();

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "state"));
        _postgres = await PrivatePostgres.StartNewAsync();
        await RoutingTableDatabase.ApplySchemaAsync(_postgres.ConnectionString);
        await RoutingTableDatabase.SeedStandardRowsAsync(_postgres.ConnectionString);
        await AgentDaemon.PkiInitAsync(Path.Combine(_dir, "pki"));
    }

    private string Pki(string file) => Path.Combine(_dir, "pki", file);

    private string LogPath => Path.Combine(_dir, "mail.log");

    private async Task StartAgentAsync()
    {
        if (_agent != null)
            await _agent.DisposeAsync();
        _agent = await AgentDaemon.StartAsync(
            $"LogTailing:Path={LogPath}", $"LogTailing:StateDirectory={Path.Combine(_dir, "state")}", "LogTailing:StartAt=Beginning",
            $"Grpc:Listen=127.0.0.1:{_agentPort}", $"Grpc:CaFile={Pki("ca.crt")}", $"Grpc:CertificateFile={Pki("agent.crt")}", $"Grpc:KeyFile={Pki("agent.key")}",
            "Grpc:ReadClients=control-plane", "Grpc:EventBufferSize=1000000", $"Events:RecipientHashKey={HashKey}",
            "Health:Checks=log", "Queue:Enabled=false");
    }

    private void StartControlPlane()
    {
        var dll = Path.Combine(Path.GetDirectoryName(AgentDaemon.Dll)!, "..", "..", "..", "..", "..", "..", "control-plane", "src", "MailControlPlane", "bin",
            new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "mailagent-control-plane.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[]
        {
            Path.GetFullPath(dll), "run",
            "Agents:0:Name=postfix-oregon", $"Agents:0:Address=https://localhost:{_agentPort}", "Agents:0:Region=us-west-2", "Agents:0:ProviderName=postfix-oregon",
            $"Tls:CaFile={Pki("ca.crt")}", $"Tls:CertificateFile={Pki("client.crt")}", $"Tls:KeyFile={Pki("client.key")}",
            "Connections:BackoffMin=00:00:00.1", "Connections:BackoffMax=00:00:01",
            "Http:Urls=http://127.0.0.1:0", "Grpc:Listen=", $"Routing:ConnectionString={_postgres!.ConnectionString}",
            "DeliveryEvents:FlushInterval=00:00:00.2", "Log:FilePath=",
        })
            info.ArgumentList.Add(a);
        _controlPlane = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        _controlPlane.OutputDataReceived += (_, e) => { lock (_controlPlaneOutput) _controlPlaneOutput.AppendLine(e.Data); };
        _controlPlane.ErrorDataReceived += (_, e) => { lock (_controlPlaneOutput) _controlPlaneOutput.AppendLine(e.Data); };
        _controlPlane.BeginOutputReadLine();
        _controlPlane.BeginErrorReadLine();
    }

    private async Task KillControlPlaneAsync()
    {
        _controlPlane!.Kill(entireProcessTree: true);
        await _controlPlane.WaitForExitAsync();
        _controlPlane.Dispose();
    }

    private async Task<Dictionary<string, long>> CountsAsync()
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var connection = new NpgsqlConnection(_postgres!.ConnectionString);
        await connection.OpenAsync();
        await using var exists = new NpgsqlCommand("SELECT to_regclass('messaging_delivery_events') IS NOT NULL", connection);
        if (!(bool)(await exists.ExecuteScalarAsync())!)
            return result;
        await using var command = new NpgsqlCommand("SELECT status, count(*) FROM messaging_delivery_events GROUP BY status", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            result[reader.GetString(0)] = reader.GetInt64(1);
        return result;
    }

    private static string Describe(Dictionary<string, long> c) => string.Join(", ", c.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}"));

    /// <summary>Reads WatchEvents (as the control plane's client) into <paramref name="sink"/>, redialling across agent restarts.</summary>
    private async Task TapAsync(StringBuilder sink, CancellationToken stop)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(Pki("ca.crt"));
        using var client = X509Certificate2.CreateFromPemFile(Pki("client.crt"), Pki("client.key"));
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [client],
                CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { ca }, RevocationMode = X509RevocationMode.NoCheck },
            },
        };
        using var channel = GrpcChannel.ForAddress($"https://localhost:{_agentPort}", new GrpcChannelOptions { HttpHandler = handler });
        var api = new AgentService.AgentServiceClient(channel);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var call = api.WatchEvents(new WatchEventsRequest(), cancellationToken: stop);
                await foreach (var m in call.ResponseStream.ReadAllAsync(stop))
                {
                    string json = Google.Protobuf.JsonFormatter.Default.Format(m);
                    lock (sink)
                        sink.AppendLine(json);
                }
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException or IOException or HttpRequestException)
            {
                if (stop.IsCancellationRequested)
                    return;
            }

            try
            {
                await Task.Delay(200, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [Fact]
    public async Task Corpus_ThroughAgentAndControlPlaneWithKills_CountsExactNoAddresses()
    {
        string[] lines;
        using (var reader = new StreamReader(new GZipStream(File.OpenRead(Path.Combine(AppContext.BaseDirectory, "data", "real-postfix-3.7.log.gz")), CompressionMode.Decompress)))
            lines = (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await File.WriteAllTextAsync(LogPath, "");
        await StartAgentAsync();
        StartControlPlane();
        using var stopTap = new CancellationTokenSource();
        var stream = new StringBuilder();
        var tap = TapAsync(stream, stopTap.Token);

        const int chunks = 12;
        int per = (lines.Length + chunks - 1) / chunks;
        for (int c = 0; c < chunks; c++)
        {
            await File.AppendAllTextAsync(LogPath, string.Join('\n', lines.Skip(c * per).Take(per)) + "\n");
            if (c == 3)
            {
                // Mid-stream: the agent is reading the chunk just written.
                await Eventually.UntilAsync(_ => CountsAsync(), n => n.Values.Sum() > 0, TimeSpan.FromMinutes(2), Describe);
                await _agent!.KillAsync();
                output.WriteLine($"agent killed at {Describe(await CountsAsync())}");
                await StartAgentAsync();
            }
            else if (c == 7)
            {
                await KillControlPlaneAsync();
                output.WriteLine($"control plane killed at {Describe(await CountsAsync())}");
                StartControlPlane();
            }
        }

        var expected = new Dictionary<string, long> { ["delivered"] = 41785, ["deferred"] = 12633, ["bounced"] = 2000, ["expired"] = 1650 };
        try
        {
            await Eventually.UntilAsync(_ => CountsAsync(), n => n.Values.Sum() >= expected.Values.Sum(), TimeSpan.FromMinutes(5), Describe);
        }
        finally
        {
            lock (_controlPlaneOutput)
                output.WriteLine(_controlPlaneOutput.ToString()[^Math.Min(4000, _controlPlaneOutput.Length)..]);
        }

        var counts = await CountsAsync();
        Assert.Equal(expected, counts);

        await using var connection = new NpgsqlConnection(_postgres!.ConnectionString);
        await connection.OpenAsync();
        await using (var unclassified = new NpgsqlCommand(
            "SELECT count(*) FROM messaging_delivery_events WHERE status = 'bounced' AND (severity <> 'hard' OR reason IN ('other', 'none'))", connection))
            Assert.Equal(0L, (long)(await unclassified.ExecuteScalarAsync())!);
        await using (var candidates = new NpgsqlCommand("SELECT count(*), sum(bounces) FROM messaging_suppression_candidates", connection))
        await using (var r = await candidates.ExecuteReaderAsync())
        {
            await r.ReadAsync();
            Assert.Equal(2000L, r.GetInt64(0)); // 1900 + 100 distinct unknown users, each bounced once
        }

        // Privacy: every address in the log, against every address-shaped word in the table and on the stream.
        var addresses = lines.SelectMany(l => AddressField().Matches(l).Select(m => m.Groups[1].Value.ToLowerInvariant())).Where(a => a.Contains('@')).ToHashSet();
        Assert.True(addresses.Count > 30_000, $"{addresses.Count} addresses found in the corpus");
        var table = new StringBuilder();
        await using (var all = new NpgsqlCommand("SELECT concat_ws(' ', " + string.Join(", ", new[]
        {
            "agent", "host", "message_id", "queue_id", "recipient_domain", "recipient", "recipient_hash", "dsn", "reason", "reply", "relay",
        }) + ") FROM messaging_delivery_events", connection))
        await using (var r = await all.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
                table.AppendLine(r.GetString(0));
        }

        await stopTap.CancelAsync();
        await tap;
        string streamText;
        lock (stream)
            streamText = stream.ToString();
        Assert.True(streamText.Length > 1_000_000, $"the tap read {streamText.Length} bytes");
        foreach (var (name, text) in new[] { ("table", table.ToString()), ("gRPC stream", streamText) })
        {
            var leaked = AddressWord().Matches(text).Select(m => m.Value.ToLowerInvariant()).Where(addresses.Contains).Distinct().Take(5).ToList();
            Assert.True(leaked.Count == 0, $"{name} holds addresses from the log: {string.Join(", ", leaked)}");
        }
    }

    [GeneratedRegex(@"(?:from|to|orig_to)=<([^>]*)>")]
    private static partial Regex AddressField();

    [GeneratedRegex(@"[^\s<>""'(),;\[\]:\x00-\x1f]+@[^\s<>""'(),;\[\]:\x00-\x1f]+")]
    private static partial Regex AddressWord();

    public async Task DisposeAsync()
    {
        if (_controlPlane is { HasExited: false })
            await KillControlPlaneAsync();
        if (_agent != null)
            await _agent.DisposeAsync();
        if (_postgres != null)
            await _postgres.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
