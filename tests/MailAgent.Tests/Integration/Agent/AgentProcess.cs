using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MailAgent.Tests.Integration.Agent;

/// <summary>The real agent daemon, started as its own process the way systemd would run it.</summary>
internal sealed partial class AgentProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Uri> _grpcListening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Generous: on a loaded CI machine a cold .NET start plus the first health checks can take tens of seconds.</summary>
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(90);

    private AgentProcess(Process process)
    {
        _process = process;
    }

    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");
    public int Pid => _process.Id;
    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public static Task<AgentProcess> StartAsync(params string[] settings) =>
        StartUnderAsync([], new Dictionary<string, string?>(), settings);

    /// <summary>Starts the agent under <paramref name="launcher"/> (e.g. unshare …), with extra environment.</summary>
    /// <remarks>
    /// The build output never reads the host's /etc/mailagent/agent.json (installed by the package
    /// tests, which run first): a test's settings are its own, unless it passes --config itself.
    /// </remarks>
    public static Task<AgentProcess> StartUnderAsync(IReadOnlyList<string> launcher, IReadOnlyDictionary<string, string?> environment, params string[] settings) =>
        StartCommandAsync([.. launcher, "dotnet", Path.Combine(AppContext.BaseDirectory, "mailagent.dll")], environment,
            settings.Contains("--config") ? settings : ["--config", EmptyConfigFile(), .. settings]);

    /// <summary>
    /// Starts the agent as an unprivileged <paramref name="user"/> (setpriv, no supplementary groups unless given)
    /// with <paramref name="workingDirectory"/> as its current directory, as <c>runuser -u mailagent -- mailagent run</c> from /root would.
    /// </summary>
    public static Task<AgentProcess> StartAsUserAsync(string user, string workingDirectory, IReadOnlyList<string> groups, params string[] settings) =>
        StartCommandAsync(
            ["/usr/bin/setpriv", "--reuid", user, "--regid", user == "nobody" ? "nogroup" : user,
             groups.Count == 0 ? "--clear-groups" : "--groups=" + string.Join(',', groups),
             "dotnet", Path.Combine(AppContext.BaseDirectory, "mailagent.dll")],
            new Dictionary<string, string?> { ["HOME"] = "/nonexistent", ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" },
            ["--config", EmptyConfigFile(), .. settings], workingDirectory);

    /// <summary>
    /// A world-readable empty settings file: with the packages installed, the default
    /// /etc/mailagent/agent.json is root:mailagent 0640, which another user rightly cannot read.
    /// </summary>
    private static string EmptyConfigFile()
    {
        string file = Path.Combine(Path.GetTempPath(), "mailagent-empty-settings.json");
        if (!File.Exists(file))
        {
            File.WriteAllText(file, "{}\n");
            if (OperatingSystem.IsLinux())
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        return file;
    }

    /// <summary>
    /// Starts an installed or published agent executable (e.g. /usr/bin/mailagent) instead of the build output;
    /// <paramref name="command"/> is the executable, optionally after a launcher (unshare …, setpriv …).
    /// </summary>
    public static Task<AgentProcess> StartExecutableAsync(IReadOnlyList<string> command, IReadOnlyDictionary<string, string?> environment, params string[] settings) =>
        StartCommandAsync(command, environment, settings);

    private static async Task<AgentProcess> StartCommandAsync(IReadOnlyList<string> command, IReadOnlyDictionary<string, string?> environment, string[] settings, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory != null)
            info.WorkingDirectory = workingDirectory;
        foreach (var arg in command.Skip(1))
            info.ArgumentList.Add(arg);
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        info.ArgumentList.Add("run");
        info.ArgumentList.Add("Http:Urls=http://127.0.0.1:0");
        info.ArgumentList.Add("AgentLog:FilePath=");
        foreach (var s in settings)
            info.ArgumentList.Add(s);
        var process = Process.Start(info) ?? throw new InvalidOperationException(command[0] + " did not start");
        var agent = new AgentProcess(process);
        process.OutputDataReceived += (_, e) => agent.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => agent.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(agent._listening.Task, exited, Task.Delay(StartDeadline));
        if (first != agent._listening.Task)
        {
            await agent.DisposeAsync();
            throw new InvalidOperationException("agent did not start listening:\n" + agent.Output);
        }

        agent.BaseAddress = await agent._listening.Task;
        return agent;
    }

    private void OnLine(string? line)
    {
        if (line == null)
            return;
        lock (_output)
            _output.AppendLine(line);
        var m = ListeningLine().Match(line);
        if (m.Success)
            _listening.TrySetResult(new Uri(m.Groups[1].Value));
        var g = GrpcListeningLine().Match(line);
        if (g.Success)
            _grpcListening.TrySetResult(new Uri(g.Groups[1].Value));
    }

    /// <summary>The gRPC listener's address from the <c>mailagent grpc listening on</c> line (started with Grpc:Listen set).</summary>
    public async Task<Uri> GrpcAddressAsync()
    {
        try
        {
            return await _grpcListening.Task.WaitAsync(StartDeadline);
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException("agent logged no gRPC listening line:\n" + Output);
        }
    }

    public async Task<string> ScrapeAsync() => await Http.GetStringAsync(new Uri(BaseAddress, "/metrics"));

    /// <summary>GET a path; returns the status code and body whatever the status.</summary>
    public async Task<(int Status, string Body)> GetAsync(string path)
    {
        using var response = await Http.GetAsync(new Uri(BaseAddress, path));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Sum of a series over the label sets matching <paramref name="labels"/> (e.g. <c>status="sent"</c>).</summary>
    public static double Value(string metrics, string name, params string[] labels)
    {
        double sum = 0;
        foreach (var line in metrics.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || (line.Length > name.Length && line[name.Length] != '{' && line[name.Length] != ' '))
                continue;
            if (labels.All(l => line.Contains(l, StringComparison.Ordinal)))
                sum += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }

        return sum;
    }

    /// <summary>Kills the process at once (SIGKILL): no checkpoint is written on the way out.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>Kills what is left and releases the process; safe to call again (a test's finally may follow a dispose).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private int _disposed;

    [GeneratedRegex(@"mailagent listening on (http://\S+)")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"mailagent grpc listening on (https://\S+)")]
    private static partial Regex GrpcListeningLine();
}
