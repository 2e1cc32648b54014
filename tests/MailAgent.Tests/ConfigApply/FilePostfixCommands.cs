using MailAgent.Postfix;

namespace MailAgent.Tests.ConfigApply;

/// <summary>
/// postconf and postfix over real files in a temp directory: <c>-n</c> reads main.cf's <c>name = value</c>
/// lines, <c>-e</c>/<c>-X</c> rewrite them, <c>-d</c> knows a fixed set of names; reload, status and check
/// succeed unless a test says otherwise.
/// </summary>
internal sealed class FilePostfixCommands : IPostfixCommands
{
    public static readonly string[] KnownNames =
    [
        "smtp_destination_rate_delay", "relay_destination_rate_delay", "default_destination_concurrency_limit", "smtpd_milters", "relayhost",
        "transport_maps", "message_size_limit", "inet_interfaces", "mynetworks", "queue_directory", "smtpd_recipient_restrictions",
    ];

    private readonly Lock _sync = new();
    private int _inside;

    public List<string> Calls { get; } = [];

    /// <summary>Runs inside every reload; a test blocks it to hold an apply in the middle.</summary>
    public Func<Task> OnReload { get; set; } = () => Task.CompletedTask;

    /// <summary>Runs on every <c>postfix start</c>.</summary>
    public Action OnStart { get; set; } = () => { };

    /// <summary>Runs during "postfix check" (e.g. writes what Postfix would log with maillog_file).</summary>
    public Func<Task> OnCheck { get; set; } = () => Task.CompletedTask;

    public PostfixResult ReloadResult { get; set; } = new(true, 0, "", "");

    public PostfixResult StatusResult { get; set; } = new(true, 0, "", "");

    public PostfixResult CheckResult { get; set; } = new(true, 0, "", "");

    /// <summary>How many calls ran at the same time, at most.</summary>
    public int MaxConcurrent { get; private set; }

    public string ConfigDirectory { get; init; } = "";

    public async Task<PostfixResult> PostfixAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null)
    {
        Enter($"postfix {(configDirectory == null ? "" : "-c STAGE ")}{string.Join(' ', arguments)}");
        try
        {
            switch (arguments[0])
            {
                case "reload":
                    await OnReload();
                    return ReloadResult;
                case "status":
                    return StatusResult;
                case "check":
                    await OnCheck();
                    return CheckResult;
                case "start":
                    OnStart();
                    return new PostfixResult(true, 0, "", "");
                default:
                    return new PostfixResult(true, 0, "", "");
            }
        }
        finally
        {
            Leave();
        }
    }

    public Task<PostfixResult> PostconfAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null)
    {
        string dir = configDirectory ?? ConfigDirectory;
        Enter($"postconf {(dir == ConfigDirectory ? "" : "-c STAGE ")}{string.Join(' ', arguments)}");
        try
        {
            string mainCf = Path.Combine(dir, "main.cf");
            var lines = File.ReadAllLines(mainCf).ToList();
            switch (arguments[0])
            {
                case "-d":
                    return Task.FromResult(new PostfixResult(true, 0, string.Concat(KnownNames.Select(n => $"{n} = default\n")), ""));
                case "-n":
                    var settings = lines.Where(l => l.Contains(" = ", StringComparison.Ordinal) && !l.StartsWith('#')).Order(StringComparer.Ordinal).ToList();
                    string warnings = string.Concat(settings.Select(l => l[..l.IndexOf(" = ", StringComparison.Ordinal)])
                        .Where(n => !KnownNames.Contains(n)).Select(n => $"postconf: warning: {mainCf}: unused parameter: {n}=x\n"));
                    return Task.FromResult(new PostfixResult(true, 0, string.Join('\n', settings) + "\n", warnings));
                case "-e":
                    int eq = arguments[1].IndexOf('=', StringComparison.Ordinal);
                    string name = arguments[1][..eq];
                    string line = $"{name} = {arguments[1][(eq + 1)..]}";
                    int at = lines.FindIndex(l => l.StartsWith(name + " = ", StringComparison.Ordinal));
                    if (at >= 0)
                        lines[at] = line;
                    else
                        lines.Add(line);
                    File.WriteAllLines(mainCf, lines);
                    return Task.FromResult(new PostfixResult(true, 0, "", ""));
                case "-X":
                    lines.RemoveAll(l => l.StartsWith(arguments[1] + " = ", StringComparison.Ordinal));
                    File.WriteAllLines(mainCf, lines);
                    return Task.FromResult(new PostfixResult(true, 0, "", ""));
                default:
                    return Task.FromResult(new PostfixResult(false, 1, "", "unexpected postconf call"));
            }
        }
        finally
        {
            Leave();
        }
    }

    private void Enter(string call)
    {
        lock (_sync)
        {
            Calls.Add(call);
            _inside++;
            MaxConcurrent = Math.Max(MaxConcurrent, _inside);
        }
    }

    private void Leave()
    {
        lock (_sync)
            _inside--;
    }

    public Task<PostfixResult> PostqueueAsync(IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? readOutput, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("configuration changes never list the queue");

    public bool RunsAsRoot => true;

    public Task<MasterProbe> ProbeMasterAsync(CancellationToken cancellationToken) =>
        throw new InvalidOperationException("configuration changes never probe the master daemon");
}
