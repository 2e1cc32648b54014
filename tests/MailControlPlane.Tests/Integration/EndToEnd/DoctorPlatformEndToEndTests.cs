using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MailControlPlane.Routing;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace MailControlPlane.Tests.Integration.EndToEnd;

/// <summary>
/// <c>mailagent doctor --format json</c>'s Platform items against a real control-plane process (the build output) with its
/// SQLite routing table, and a real agent process it connects to, or none: the provider row present and active, present but
/// inactive, or missing; the agent connected, or not reachable.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class DoctorPlatformEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Provider = "postfix-oregon";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cp-doctor-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly int _agentPort = AgentDaemon.FreePort();
    private readonly StringBuilder _controlPlaneOutput = new();
    private readonly TaskCompletionSource<string> _controlPlaneUrl = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _controlPlane;
    private AgentDaemon? _agent;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        await AgentDaemon.PkiInitAsync(Path.Combine(_dir, "pki"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "empty.json"), "{}\n");
    }

    public async Task DisposeAsync()
    {
        if (_agent != null)
            await _agent.DisposeAsync();
        if (_controlPlane != null)
        {
            if (!_controlPlane.HasExited)
            {
                _controlPlane.Kill(entireProcessTree: true);
                await _controlPlane.WaitForExitAsync();
            }

            _controlPlane.Dispose();
        }

        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private string Pki(string file) => Path.Combine(_dir, "pki", file);

    private string Database => Path.Combine(_dir, "routing.db");

    /// <summary>The platform's tables with the given email rows (provider_name, is_active).</summary>
    private async Task CreateTableAsync(params (string Name, bool Active)[] rows)
    {
        await using var connection = new SqliteConnection($"Data Source={Database};Pooling=false");
        await connection.OpenAsync();
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = RoutingTableSchema.SqliteTables;
            await create.ExecuteNonQueryAsync();
        }

        foreach (var (name, active) in rows)
        {
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config, is_active) VALUES ('email', @n, '', '', '{\"priority\": 1}', @a)";
            insert.Parameters.AddWithValue("@n", name);
            insert.Parameters.AddWithValue("@a", active ? 1 : 0);
            await insert.ExecuteNonQueryAsync();
        }
    }

    private async Task StartControlPlaneAsync()
    {
        string dll = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(AgentDaemon.Dll)!, "..", "..", "..", "..", "..", "..", "control-plane", "src", "MailControlPlane", "bin",
            new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "mailagent-control-plane.dll"));
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[]
        {
            dll, "run",
            "Agents:0:Name=oregon", $"Agents:0:Address=https://localhost:{_agentPort}", "Agents:0:Region=us-west-2", $"Agents:0:ProviderName={Provider}",
            $"Tls:CaFile={Pki("ca.crt")}", $"Tls:CertificateFile={Pki("client.crt")}", $"Tls:KeyFile={Pki("client.key")}",
            "Connections:BackoffMin=00:00:00.1", "Connections:BackoffMax=00:00:01", "Connections:StatusInterval=00:00:00.5",
            "Http:Urls=http://127.0.0.1:0", "Grpc:Listen=", $"Routing:SqlitePath={Database}", "Routing:SeedStandalone=false",
            "Routing:WriteInterval=00:00:00.2", "Scoring:EvaluationInterval=00:00:00.5", "Log:FilePath=",
        })
            info.ArgumentList.Add(a);
        _controlPlane = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        _controlPlane.OutputDataReceived += (_, e) => OnControlPlaneLine(e.Data);
        _controlPlane.ErrorDataReceived += (_, e) => OnControlPlaneLine(e.Data);
        _controlPlane.BeginOutputReadLine();
        _controlPlane.BeginErrorReadLine();
        var first = await Task.WhenAny(_controlPlaneUrl.Task, _controlPlane.WaitForExitAsync(), Task.Delay(Deadline));
        if (first != _controlPlaneUrl.Task)
            throw new InvalidOperationException("the control plane did not start listening:\n" + ControlPlaneOutput);
    }

    private string ControlPlaneOutput
    {
        get
        {
            lock (_controlPlaneOutput)
                return _controlPlaneOutput.ToString();
        }
    }

    private void OnControlPlaneLine(string? line)
    {
        if (line == null)
            return;
        lock (_controlPlaneOutput)
            _controlPlaneOutput.AppendLine(line);
        if (ListeningLine().Match(line) is { Success: true } m)
            _controlPlaneUrl.TrySetResult(m.Groups[1].Value);
    }

    private async Task StartAgentAsync()
    {
        _agent = await AgentDaemon.StartAsync(
            "--config", Path.Combine(_dir, "empty.json"),
            $"LogTailing:Path={Path.Combine(_dir, "mail.log")}", $"LogTailing:StateDirectory={_dir}", "LogTailing:StartAt=Beginning",
            $"Grpc:Listen=127.0.0.1:{_agentPort}", $"Grpc:CaFile={Pki("ca.crt")}", $"Grpc:CertificateFile={Pki("agent.crt")}", $"Grpc:KeyFile={Pki("agent.key")}",
            "Grpc:ReadClients=control-plane", "Health:Checks=log", "Queue:Enabled=false");
    }

    /// <summary>The control plane's view of its one agent, polled until <paramref name="done"/>.</summary>
    private async Task UntilAgentAsync(Func<JsonElement, bool> done, string what)
    {
        using var http = new HttpClient();
        string url = await _controlPlaneUrl.Task + "/api/status";
        await Eventually.UntilAsync(async ct => await http.GetStringAsync(url, ct),
            body =>
            {
                using var json = JsonDocument.Parse(body);
                return json.RootElement.GetProperty("agents").EnumerateArray().Any(a => done(a));
            },
            Deadline, body => $"{what}: {body}\n{ControlPlaneOutput}");
    }

    /// <summary>A loopback port nothing listens on, so the doctor's other items fail at once.</summary>
    private static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Runs <c>mailagent doctor --format json</c> (the agent's build output) and returns the Platform items by id.</summary>
    private async Task<Dictionary<string, JsonElement>> DoctorAsync(params string[] identity)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[]
        {
            AgentDaemon.Dll, "doctor", "--format", "json", "--config", Path.Combine(_dir, "empty.json"),
            $"Doctor:ControlPlaneUrl={await _controlPlaneUrl.Task}",
            $"Health:Dns:Resolver=127.0.0.1:{ClosedPort()}", "Health:Dns:Domain=example.test", "Health:Dns:HostAddresses=192.0.2.10", "Doctor:Timeout=00:00:02",
            $"Doctor:SmtpPort={ClosedPort()}", $"Doctor:SubmissionsPort={ClosedPort()}", $"Doctor:SubmissionPort={ClosedPort()}",
            "Postfix:PostfixPath=/bin/false", $"Doctor:MtaStsConnectTo=127.0.0.1:{ClosedPort()}", $"Doctor:FirewallRulesFile={Path.Combine(_dir, "none")}",
            $"Doctor:Fail2banDirectory={_dir}", $"Doctor:AptPeriodicDirectory={_dir}", $"Doctor:DiskPath={_dir}",
        }.Concat(identity))
            info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        string text = await stdout;
        Assert.True(process.ExitCode is 0 or 1, $"doctor exited {process.ExitCode}: {await stderr}\n{text}");
        using var json = JsonDocument.Parse(text);
        var items = json.RootElement.GetProperty("items").EnumerateArray()
            .Where(i => i.GetProperty("group").GetString() == "Platform")
            .ToDictionary(i => i.GetProperty("id").GetString()!, i => i.Clone(), StringComparer.Ordinal);
        foreach (var item in items.Values)
            output.WriteLine(item.ToString());
        Assert.Equal(["platform.provider-row", "platform.control-plane"], items.Keys);
        return items;
    }

    private static string Status(JsonElement item) => item.GetProperty("status").GetString()!;

    private static string Why(JsonElement item) => item.GetProperty("why").GetString()!;

    [Fact]
    public async Task Doctor_RowActiveAgentConnected_BothPass()
    {
        await CreateTableAsync((Provider, true), ("elastic-email", true));
        await StartAgentAsync();
        await StartControlPlaneAsync();
        await UntilAgentAsync(a => a.GetProperty("state").GetString() == "Connected", "agent connected");

        // Matched by address: the Agents entry names localhost on this agent's gRPC port.
        var items = await DoctorAsync("Health:Dns:HostName=localhost", $"Grpc:Listen=127.0.0.1:{_agentPort}");

        Assert.True(Status(items["platform.provider-row"]) == "pass", items["platform.provider-row"].ToString());
        Assert.Contains($"the email row for '{Provider}' exists with is_active true", Why(items["platform.provider-row"]), StringComparison.Ordinal);
        Assert.True(Status(items["platform.control-plane"]) == "pass", items["platform.control-plane"].ToString());
        Assert.Contains("the control plane is connected to this agent as 'oregon', last heartbeat", Why(items["platform.control-plane"]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_NoRowAgentDown_BothFail()
    {
        await CreateTableAsync(("elastic-email", true));
        await StartControlPlaneAsync();
        await UntilAgentAsync(a => a.TryGetProperty("lastError", out _), "the control plane reports why it cannot reach the agent");

        var items = await DoctorAsync($"Doctor:ProviderName={Provider}", "Health:Dns:HostName=mail.example.test");

        Assert.True(Status(items["platform.provider-row"]) == "fail", items["platform.provider-row"].ToString());
        Assert.Contains($"messaging_providers has no live email row for provider_name '{Provider}'", Why(items["platform.provider-row"]), StringComparison.Ordinal);
        Assert.Contains("Routing:CreateMissingProviders=true", items["platform.provider-row"].GetProperty("fix").GetString(), StringComparison.Ordinal);
        Assert.True(Status(items["platform.control-plane"]) == "fail", items["platform.control-plane"].ToString());
        Assert.Contains("the control plane does not reach this agent ('oregon' is Connecting: ", Why(items["platform.control-plane"]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_RowInactive_Warns()
    {
        await CreateTableAsync((Provider, false), ("elastic-email", true));
        await StartAgentAsync();
        await StartControlPlaneAsync();
        await UntilAgentAsync(a => a.GetProperty("state").GetString() == "Connected", "agent connected");

        var items = await DoctorAsync($"Doctor:ProviderName={Provider}");

        Assert.True(Status(items["platform.provider-row"]) == "warn", items["platform.provider-row"].ToString());
        Assert.Contains("exists but is_active is false", Why(items["platform.provider-row"]), StringComparison.Ordinal);
        Assert.Equal("pass", Status(items["platform.control-plane"]));
    }

    [Fact]
    public async Task Doctor_ControlPlaneStopped_BothFailNamingTheUrl()
    {
        await CreateTableAsync((Provider, true));
        await StartControlPlaneAsync();
        _controlPlane!.Kill(entireProcessTree: true);
        await _controlPlane.WaitForExitAsync();

        var items = await DoctorAsync($"Doctor:ProviderName={Provider}");

        string url = await _controlPlaneUrl.Task;
        Assert.All(items.Values, i => Assert.Equal("fail", Status(i)));
        Assert.All(items.Values, i => Assert.Contains($"{url}/api/status cannot be fetched", Why(i), StringComparison.Ordinal));
    }

    [GeneratedRegex(@"mailagent-control-plane listening on (http://\S+)")]
    private static partial Regex ListeningLine();
}
