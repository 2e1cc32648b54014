namespace MailAgent.Tests.Integration.Postfix;

/// <summary>Start and clean-up of a <see cref="PrivatePostfix"/>.</summary>
internal sealed partial class PrivatePostfix
{
    /// <summary>
    /// Starts an instance and returns once smtpd answers 220 on both ports. A start that loses a port
    /// to another process between learning and binding it is retried with new ports.
    /// </summary>
    public static async Task<PrivatePostfix> StartAsync(PrivatePostfixOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PrivatePostfixOptions();
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("PrivatePostfix needs root: 'postfix start' and the queue ownership require it.");
        }

        foreach (var line in await StaleInstanceSweep.Value)
        {
            options.Diagnostics?.Invoke(line);
        }

        for (var attempt = 1; ; attempt++)
        {
            var instance = Create(options);
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(options.StartTimeout);
                await instance.StartProcessesAsync(deadline.Token);
                return instance;
            }
            catch (Exception e) when (attempt < StartAttempts && IsPortConflict(e.Message) && !cancellationToken.IsCancellationRequested)
            {
                options.Diagnostics?.Invoke($"start attempt {attempt} lost a port, retrying: {e.Message}");
                await instance.DisposeAsync();
            }
            catch (Exception e)
            {
                try
                {
                    await instance.DisposeAsync();
                }
                catch (Exception cleanup)
                {
                    throw new AggregateException("PrivatePostfix failed to start and to clean up", e, cleanup);
                }

                throw;
            }
        }
    }

    /// <summary>
    /// Stops Postfix (killing what does not stop), OpenDKIM and the sinks, and deletes the root. Every
    /// step runs even when an earlier one fails; if something is left behind it throws at the end.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var leftovers = new List<string>();

        async Task Step(string what, Func<Task> action)
        {
            try
            {
                await action();
            }
            catch (Exception e)
            {
                leftovers.Add($"{what}: {e.Message}");
            }
        }

        if (_postfixStarted)
        {
            await Step("postfix stop", StopPostfixAsync);
        }

        foreach (var child in _children)
        {
            await Step($"stop {child.Name}", () => child.DisposeAsync().AsTask());
        }

        if (_syslog is { } syslog)
        {
            await Step("stop the syslog receiver", () => syslog.DisposeAsync().AsTask());
        }

        _refusingPort.Dispose();

        // Anything of ours still alive (a Postfix daemon that ignored the stop) is killed now.
        await Step("kill leftovers", () => Eventually.UntilAsync(
            () => KillAll(FindProcesses(RootDirectory)),
            pids => pids.Count == 0,
            StopTimeout,
            pids => $"processes of {RootDirectory} survive SIGKILL: {string.Join(' ', pids)}"));

        await Step("delete the root", () => Eventually.UntilAsync(
            DeleteRoot,
            error => error is null,
            StopTimeout,
            error => $"cannot delete {RootDirectory}: {error}"));

        if (leftovers.Count > 0)
        {
            throw new InvalidOperationException($"PrivatePostfix {RootDirectory} was not cleaned up: {string.Join("; ", leftovers)}");
        }
    }

    private static PrivatePostfix Create(PrivatePostfixOptions options)
    {
        var root = Directory.CreateTempSubdirectory(RootPrefix).FullName;
        File.WriteAllText(Path.Combine(root, OwnerFileName), OwnerStamp(Environment.ProcessId));
        // Postfix daemons run as the postfix user and must reach the queue below the root.
        SetMode(root, (UnixFileMode)0b111_101_101);
        var refusing = LoopbackPorts.ReserveRefusingPort(out var refusingPort);
        var free = LoopbackPorts.Allocate(7);
        var ports = new PrivatePostfixPorts(
            Smtp: free[0],
            Submission: free[1],
            Milter: free[2],
            AcceptSink: free[3],
            BounceSink: free[4],
            PolicySink: free[5],
            DeferSink: free[6],
            Refusing: refusingPort);
        return new PrivatePostfix(new PrivatePostfixLayout(root, ports), options, refusing);
    }

    private async Task StartProcessesAsync(CancellationToken cancellationToken)
    {
        Diagnostic($"root {RootDirectory}, smtpd {SmtpPort}, submission {SubmissionPort}, milter {MilterPort}, " +
                   $"sinks accept {AcceptSinkPort} bounce {BounceSinkPort} policy {PolicySinkPort} defer {DeferSinkPort}, refusing {RefusingPort}");
        Directory.CreateDirectory(_layout.ConfigDirectory);
        Directory.CreateDirectory(_layout.QueueDirectory);
        Directory.CreateDirectory(_layout.LogDirectory);
        Directory.CreateDirectory(_layout.DkimKeyDirectory);
        Directory.CreateDirectory(_layout.AcceptedMessagesDirectory);
        // smtp-sink drops root for nobody before it writes the dumps.
        SetMode(_layout.AcceptedMessagesDirectory, (UnixFileMode)0b111_111_111);

        await StartOpenDkimAsync(cancellationToken);
        await StartSinksAsync(cancellationToken);
        await StartPostfixAsync(cancellationToken);
    }

    private async Task StartOpenDkimAsync(CancellationToken cancellationToken)
    {
        await Tool.RunAsync(
            OpenDkimGenkey,
            ["-b", "2048", "-d", SigningDomain, "-s", DkimSelector, "-D", _layout.DkimKeyDirectory],
            cancellationToken);

        var inNamespace = await MountNamespaceSupport.Value;
        await File.WriteAllTextAsync(_layout.OpenDkimConfigPath, PrivatePostfixConfig.OpenDkimConf(_layout, inNamespace, _options.MilterOnUnixSocket), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(_layout.DkimDirectory, "KeyTable"), PrivatePostfixConfig.KeyTable(_layout, inNamespace), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(_layout.DkimDirectory, "SigningTable"), PrivatePostfixConfig.SigningTable(), cancellationToken);

        ChildProcess openDkim;
        if (inNamespace)
        {
            await File.WriteAllTextAsync(_layout.OpenDkimNamespaceScriptPath, PrivatePostfixConfig.NamespaceScript(_layout), cancellationToken);
            _syslog = SyslogReceiver.Start(_layout.OpenDkimSyslogSocketPath, _layout.OpenDkimLogPath, LogHostName);
            OpenDkimLogCaptured = true;
            Diagnostic($"OpenDKIM runs in a private mount namespace; its syslog lines go to {_layout.OpenDkimLogPath}");
            openDkim = StartChild(
                "opendkim",
                Unshare,
                ["--mount", "--propagation", "private", "--", "/bin/sh", _layout.OpenDkimNamespaceScriptPath]);
        }
        else
        {
            Diagnostic("no private mount namespace here (unshare/mount refused): OpenDKIM's syslog lines are not captured; " +
                       "signing is still visible as DKIM-Signature headers in the accepted messages");
            openDkim = StartChild("opendkim", OpenDkim, ["-f", "-x", _layout.OpenDkimConfigPath]);
        }

        await Eventually.UntilAsync(
            async ct => openDkim.HasExited || await MilterListensAsync(ct),
            ready => ready,
            TimeSpan.FromSeconds(15),
            _ => $"OpenDKIM does not listen on {MilterPort}: {openDkim.Describe()}",
            cancellationToken);
        ThrowIfExited(openDkim);
    }

    private async Task StartSinksAsync(CancellationToken cancellationToken)
    {
        var sinks = new[]
        {
            StartSink("sink-accept", AcceptSinkPort, ["-d", Path.Combine(AcceptedMessagesDirectory, "msg.")]),
            StartSink("sink-bounce", BounceSinkPort, ["-f", "RCPT", "-B", BounceReply]),
            StartSink("sink-policy", PolicySinkPort, ["-f", "RCPT", "-B", PolicyReply]),
            StartSink("sink-defer", DeferSinkPort, ["-r", "RCPT", "-b", DeferReply]),
        };

        foreach (var (sink, port) in sinks)
        {
            await Eventually.UntilAsync(
                async ct => sink.HasExited ? "" : await SmtpProbe.TryReadGreetingAsync(port, ct),
                greeting => greeting is not null,
                TimeSpan.FromSeconds(10),
                _ => $"{sink.Name} does not answer on {port}: {sink.Describe()}",
                cancellationToken);
            ThrowIfExited(sink);
        }
    }

    private (ChildProcess Sink, int Port) StartSink(string name, int port, IEnumerable<string> behaviour)
    {
        // smtp-sink refuses to run as root without -u; -h names it in the greeting and in Received:.
        IEnumerable<string> arguments = ["-u", "nobody", "-h", name + ".test", .. behaviour, $"127.0.0.1:{port}", "64"];
        return (StartChild(name, SmtpSink, arguments), port);
    }

    private async Task StartPostfixAsync(CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(Path.Combine(ConfigDirectory, "main.cf"), PrivatePostfixConfig.MainCf(_layout, _options), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(ConfigDirectory, "master.cf"), PrivatePostfixConfig.MasterCf(_layout), cancellationToken);
        await File.WriteAllTextAsync(_layout.TransportMapPath, PrivatePostfixConfig.TransportMap(_layout), cancellationToken);

        // 'postfix start' runs post-install create-missing first, which creates the queue
        // subdirectories and data_directory with the owners Postfix wants (mail_owner, setgid_group).
        _postfixStarted = true;
        await StartMasterAsync(cancellationToken);

        if (_options.OpenDkimLogToMaillog && _syslog is { } syslog)
        {
            // The master made postlogd's socket at start; OpenDKIM's lines so far are sent first.
            syslog.ForwardTo(_layout.PostlogSocketPath);
            OpenDkimLogInMaillog = true;
            Diagnostic($"OpenDKIM's syslog lines also go to {LogPath} through postlogd");
        }
    }

    /// <summary>
    /// 'postfix stop' as an operator runs it, then waits until the master and every daemon of the instance are gone:
    /// 'postfix stop' only signals the master, and a start while its daemons still hold the listening sockets fails.
    /// </summary>
    public Task StopMailSystemAsync() => StopPostfixAsync();

    /// <summary>'postfix start' again after <see cref="StopMailSystemAsync"/>, until smtpd answers 220 on both ports.</summary>
    public Task StartMailSystemAsync(CancellationToken cancellationToken = default) => StartMasterAsync(cancellationToken);

    private async Task StartMasterAsync(CancellationToken cancellationToken)
    {
        var start = await Tool.TryRunAsync(Postfix, ["-c", ConfigDirectory, "start"], cancellationToken, environment: MarkerEnvironment());
        if (start.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"'postfix -c {ConfigDirectory} start' exited {start.ExitCode}: {start.StandardError.Trim()}\nPostfix log:\n{Tail(ReadLogLines())}");
        }

        foreach (var port in new[] { SmtpPort, SubmissionPort })
        {
            await Eventually.UntilAsync(
                ct => SmtpProbe.TryReadGreetingAsync(port, ct),
                greeting => greeting?.StartsWith("220 ", StringComparison.Ordinal) == true,
                TimeSpan.FromSeconds(15),
                greeting => $"smtpd on {port} answered '{greeting}'\nPostfix log:\n{Tail(ReadLogLines())}",
                cancellationToken);
        }

        Diagnostic($"Postfix answers 220 on {SmtpPort} and {SubmissionPort}");
    }

    /// <summary>
    /// Kills OpenDKIM (as a crash would) and waits until its milter port refuses connections; Postfix
    /// keeps running. The instance cannot start it again.
    /// </summary>
    public async Task StopOpenDkimAsync(CancellationToken cancellationToken = default)
    {
        var openDkim = _children.Single(c => c.Name == "opendkim");
        await openDkim.DisposeAsync();
        _children.Remove(openDkim);
        await Eventually.UntilAsync(
            MilterListensAsync,
            listening => !listening,
            StopTimeout,
            _ => $"the OpenDKIM milter port {MilterPort} still accepts connections after the kill",
            cancellationToken);
    }

    private async Task<bool> MilterListensAsync(CancellationToken cancellationToken)
    {
        if (!_options.MilterOnUnixSocket)
            return await SmtpProbe.CanConnectAsync(MilterPort, cancellationToken);
        try
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(_layout.OpenDkimSocketPath), cancellationToken);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private async Task StopPostfixAsync()
    {
        // Bounded: a wedged instance never answers. Seen once in CI: postlogd blocked writing to its own full postlog
        // socket, so every daemon, and 'master -t' inside 'postfix stop', waited forever to log a line.
        string said;
        using (var limit = new CancellationTokenSource(StopTimeout))
        {
            try
            {
                var stop = await Tool.TryRunAsync(Postfix, ["-c", ConfigDirectory, "stop"], limit.Token);
                said = $"{stop.ExitCode}: {stop.StandardError.Trim()}";
            }
            catch (OperationCanceledException)
            {
                said = $"no answer within {StopTimeout.TotalSeconds:0} s";
            }
        }

        // 'postfix stop' only signals the master; wait until the master and its daemons are gone.
        try
        {
            await Eventually.UntilAsync(
                () => ProcessSweep.FindByEnvironment("MAIL_CONFIG", ConfigDirectory),
                pids => pids.Count == 0,
                StopTimeout,
                pids => $"Postfix processes still running: {string.Join(' ', pids)}");
        }
        catch (TimeoutException e)
        {
            // Not 'postfix abort': it asks 'master -t' first, which a wedged instance never answers either.
            Diagnostic($"'postfix stop' ({said}) did not stop everything, killing them: {e.Message}");
            KillAll(ProcessSweep.FindByEnvironment("MAIL_CONFIG", ConfigDirectory));
        }
    }

    private ChildProcess StartChild(string name, string executable, IEnumerable<string> arguments)
    {
        var child = ChildProcess.Start(name, executable, arguments, MarkerEnvironment());
        _children.Add(child);
        return child;
    }

    private Dictionary<string, string?> MarkerEnvironment() => new() { [MarkerVariable] = RootDirectory };

    private static IReadOnlyList<int> FindProcesses(string root) =>
    [
        .. ProcessSweep.FindByEnvironment("MAIL_CONFIG", Path.Combine(root, "etc")),
        .. ProcessSweep.FindByEnvironment(MarkerVariable, root),
    ];

    /// <summary>"pid start-time": a dead owner, or its pid reused by another process, no longer matches.</summary>
    internal static string OwnerStamp(int pid) => $"{pid} {ProcessSweep.StartTime(pid)}";

    /// <summary>
    /// Kills the processes and deletes the roots of instances whose test host died without disposing them
    /// (a crash, a kill on timeout, a stopped debugger). An instance whose owner still runs, in this or
    /// another process, is left alone; so is a root without an owner file (one being created). Returns
    /// a line per root it removed or failed to remove; a failure here does not fail the caller's start.
    /// </summary>
    internal static async Task<IReadOnlyList<string>> RemoveStaleInstancesAsync()
    {
        var report = new List<string>();
        foreach (var root in Directory.EnumerateDirectories(Path.GetTempPath(), RootPrefix + "*"))
        {
            string stamp;
            try
            {
                stamp = (await File.ReadAllTextAsync(Path.Combine(root, OwnerFileName))).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (int.TryParse(stamp.Split(' ')[0], out var pid) && OwnerStamp(pid) == stamp)
            {
                continue;
            }

            try
            {
                await Eventually.UntilAsync(
                    () => KillAll(FindProcesses(root)),
                    pids => pids.Count == 0,
                    StopTimeout,
                    pids => $"processes survive SIGKILL: {string.Join(' ', pids)}");
                Directory.Delete(root, recursive: true);
                report.Add($"removed {root}, left behind by test host {stamp} that died without disposing it");
            }
            catch (Exception e) when (e is TimeoutException or IOException or UnauthorizedAccessException)
            {
                report.Add($"could not remove stale {root}: {e.Message}");
            }
        }

        return report;
    }

    private static IReadOnlyList<int> KillAll(IReadOnlyList<int> pids)
    {
        foreach (var pid in pids)
        {
            ProcessSweep.Kill(pid);
        }

        return pids;
    }

    private string? DeleteRoot()
    {
        try
        {
            if (Directory.Exists(RootDirectory))
            {
                Directory.Delete(RootDirectory, recursive: true);
            }

            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    private static void SetMode(string path, UnixFileMode mode)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("PrivatePostfix runs on Linux only.");
        }

        File.SetUnixFileMode(path, mode);
    }

    private static void ThrowIfExited(ChildProcess child)
    {
        if (child.HasExited)
        {
            throw new InvalidOperationException($"{child.Describe()}");
        }
    }

    private static bool IsPortConflict(string message) =>
        message.Contains("Address already in use", StringComparison.Ordinal)
        || message.Contains("smfi_opensocket", StringComparison.Ordinal);

    private static async Task<bool> ProbeMountNamespaceAsync()
    {
        // The same operations the OpenDKIM script performs, in a namespace that dies with the probe.
        try
        {
            var result = await Tool.TryRunAsync(
                Unshare,
                ["--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                 "mount -t tmpfs -o size=1m mailagent-probe /dev && mknod -m 666 /dev/null c 1 3"],
                CancellationToken.None);
            return result.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no unshare(1)
        }
    }
}
