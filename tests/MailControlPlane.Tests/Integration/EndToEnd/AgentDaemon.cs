using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace MailControlPlane.Tests.Integration.EndToEnd;

/// <summary>
/// The real agent daemon (the solution's build output of agent/src/MailAgent, run with dotnet),
/// as tests/MailAgent.Tests/Integration/Agent/AgentProcess.cs starts it, on fixed loopback ports
/// so that a restarted agent is found at the same address.
/// </summary>
internal sealed partial class AgentDaemon : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _grpcListening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AgentDaemon(Process process) => _process = process;

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    /// <summary>mailagent.dll from the same configuration as this test assembly (bin/Release → Release).</summary>
    public static string Dll
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            string configuration = dir.Parent!.Name;
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "MailAgent.sln")))
                dir = dir.Parent;
            if (dir == null)
                throw new InvalidOperationException($"no MailAgent.sln above {AppContext.BaseDirectory}");
            string dll = Path.Combine(dir.FullName, "agent", "src", "MailAgent", "bin", configuration, "net10.0", "mailagent.dll");
            return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing: build the solution first");
        }
    }

    /// <summary>
    /// A port the OS just handed out on 127.0.0.1 and released, from the allocator the Postfix harness uses too,
    /// so no two agents, sinks or servers of this process are given the same one.
    /// </summary>
    public static int FreePort() => LoopbackPorts.Allocate(1)[0];

    /// <summary>Runs <c>mailagent pki init</c> into <paramref name="dir"/>.</summary>
    public static Task PkiInitAsync(string dir) =>
        PkiAsync("pki", "init", "--dir", dir, "--agent-name", "localhost", "--client-name", "control-plane");

    /// <summary>Runs <c>mailagent pki issue</c>: NAME.crt and NAME.key from the CA in <paramref name="caDir"/>.</summary>
    public static Task PkiIssueAsync(string caDir, string agentName) =>
        PkiAsync("pki", "issue", "--ca-dir", caDir, "--agent-name", agentName);

    private static async Task PkiAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll);
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"mailagent {string.Join(' ', args)} failed: {output}");
    }

    public static async Task<AgentDaemon> StartAsync(params string[] settings)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll);
        info.ArgumentList.Add("run");
        info.ArgumentList.Add("Http:Urls=http://127.0.0.1:0");
        info.ArgumentList.Add("AgentLog:FilePath=");
        foreach (var s in settings)
            info.ArgumentList.Add(s);
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var agent = new AgentDaemon(process);
        process.OutputDataReceived += (_, e) => agent.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => agent.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var first = await Task.WhenAny(agent._grpcListening.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != agent._grpcListening.Task)
        {
            await agent.DisposeAsync();
            throw new InvalidOperationException("agent did not start its gRPC listener:\n" + agent.Output);
        }

        return agent;
    }

    private void OnLine(string? line)
    {
        if (line == null)
            return;
        lock (_output)
            _output.AppendLine(line);
        if (GrpcListeningLine().IsMatch(line))
            _grpcListening.TrySetResult();
    }

    /// <summary>SIGKILL, as a crash would.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited)
            return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    [GeneratedRegex(@"mailagent grpc listening on https://")]
    private static partial Regex GrpcListeningLine();
}
