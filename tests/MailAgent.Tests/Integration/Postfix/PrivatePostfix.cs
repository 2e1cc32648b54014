using System.Net.Sockets;
using System.Text;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>
/// A throwaway Postfix instance for integration tests: its own configuration, queue and log under
/// /tmp/mailagent-pf-*, smtpd and a submission-style smtpd on free 127.0.0.1 ports, OpenDKIM as a
/// milter, and smtp-sink next hops for every outcome (sent, bounced 5.1.1 and 5.7.1, deferred 4.7.1,
/// connection refused). Nothing leaves loopback. Needs root (Postfix's start and queue ownership).
/// </summary>
/// <remarks>
/// Run as root, <c>postfix -c</c>, <c>postqueue -c</c> and <c>sendmail -C</c> accept the private
/// configuration directory without <c>alternate_config_directories</c> in the default main.cf (Postfix
/// checks that list only for other users), so /etc/postfix is neither needed nor touched: machines where
/// the Postfix package was installed with "No configuration" have no /etc/postfix/main.cf at all.
/// OpenDKIM logs only through syslog(3); where a private mount namespace is allowed it runs in one whose
/// /dev/log is a socket of this harness (<see cref="OpenDkimLogPath"/>), elsewhere its log is not captured.
/// </remarks>
internal sealed partial class PrivatePostfix : IAsyncDisposable
{
    /// <summary>The sender domain, signed by OpenDKIM; bounce notices to it land in the accept sink.</summary>
    public const string SigningDomain = "example.test";

    public const string DkimSelector = "mail-2026";

    public const string SenderAddress = "sender@" + SigningDomain;

    /// <summary>Delivered: the sink answers 250 and keeps every message.</summary>
    public const string AcceptDomain = "accept.test";

    /// <summary>Bounced: the sink rejects RCPT with 550 5.1.1.</summary>
    public const string BounceDomain = "bounce.test";

    /// <summary>Bounced: the sink rejects RCPT with 550 5.7.1.</summary>
    public const string PolicyDomain = "policy.test";

    /// <summary>Deferred: the sink answers RCPT with 451 4.7.1.</summary>
    public const string DeferDomain = "defer.test";

    /// <summary>Deferred: the next hop refuses the connection.</summary>
    public const string UnreachableDomain = "unreach.test";

    public const string BounceReply = "550 5.1.1 The email account that you tried to reach does not exist";
    public const string PolicyReply = "550 5.7.1 Message rejected by local policy";
    public const string DeferReply = "451 4.7.1 Greylisting in action, please come back later";

    private const string Postfix = "/usr/sbin/postfix";
    private const string Postqueue = "/usr/sbin/postqueue";
    private const string Postsuper = "/usr/sbin/postsuper";
    private const string Sendmail = "/usr/sbin/sendmail";
    private const string SmtpSource = "/usr/sbin/smtp-source";
    private const string SmtpSink = "/usr/sbin/smtp-sink";
    private const string OpenDkim = "/usr/sbin/opendkim";
    private const string OpenDkimGenkey = "/usr/sbin/opendkim-genkey";
    private const string Pflogsumm = "/usr/sbin/pflogsumm";
    private const string Unshare = "/usr/bin/unshare";
    private const string ClientHeloName = "client." + SigningDomain;

    /// <summary>Set on every child the harness starts; Postfix daemons carry MAIL_CONFIG instead.</summary>
    internal const string MarkerVariable = "MAILAGENT_TEST_POSTFIX_ROOT";

    /// <summary>The host name Postfix and the syslog receiver put in log lines (myhostname's first label).</summary>
    private const string LogHostName = "mail";

    private const int StartAttempts = 3;

    private const string RootPrefix = "mailagent-pf-";

    /// <summary>File in the root naming the test host that owns the instance.</summary>
    private const string OwnerFileName = "owner";

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private static readonly Lazy<Task<bool>> MountNamespaceSupport = new(ProbeMountNamespaceAsync);
    private static readonly Lazy<Task<IReadOnlyList<string>>> StaleInstanceSweep = new(RemoveStaleInstancesAsync);

    private readonly PrivatePostfixLayout _layout;
    private readonly PrivatePostfixOptions _options;
    private readonly Socket _refusingPort;
    private readonly List<ChildProcess> _children = [];
    private SyslogReceiver? _syslog;
    private bool _postfixStarted;
    private bool _disposed;

    private PrivatePostfix(PrivatePostfixLayout layout, PrivatePostfixOptions options, Socket refusingPort)
    {
        _layout = layout;
        _options = options;
        _refusingPort = refusingPort;
    }

    public string RootDirectory => _layout.Root;

    /// <summary>Pass to <c>postfix -c</c>, <c>postqueue -c</c>, <c>postconf -c</c>, <c>sendmail -C</c> or as MAIL_CONFIG.</summary>
    public string ConfigDirectory => _layout.ConfigDirectory;

    public string QueueDirectory => _layout.QueueDirectory;

    public string DataDirectory => _layout.DataDirectory;

    /// <summary>The maillog_file postlogd writes.</summary>
    public string LogPath => _layout.LogPath;

    /// <summary>True when OpenDKIM's syslog lines are captured at <see cref="OpenDkimLogPath"/>.</summary>
    public bool OpenDkimLogCaptured { get; private set; }

    /// <summary>OpenDKIM's log (classic syslog format), or null when it could not be captured here.</summary>
    public string? OpenDkimLogPath => OpenDkimLogCaptured ? _layout.OpenDkimLogPath : null;

    /// <summary>
    /// True when OpenDKIM's lines also go to <see cref="LogPath"/> (<see cref="PrivatePostfixOptions.OpenDkimLogToMaillog"/>
    /// asked for it and the log is captured here).
    /// </summary>
    public bool OpenDkimLogInMaillog { get; private set; }

    /// <summary>OpenDKIM lines that did not reach <see cref="LogPath"/> although <see cref="OpenDkimLogInMaillog"/>.</summary>
    public int OpenDkimLinesMissingFromMaillog => _syslog?.UnforwardedLines ?? 0;

    /// <summary>Where the accept sink dumps each message it receives (one file per message).</summary>
    public string AcceptedMessagesDirectory => _layout.AcceptedMessagesDirectory;

    /// <summary>The DNS TXT record for the DKIM key, as opendkim-genkey wrote it.</summary>
    public string DkimPublicRecordPath => _layout.DkimPublicRecordPath;

    public int SmtpPort => _layout.Ports.Smtp;

    public int SubmissionPort => _layout.Ports.Submission;

    public int MilterPort => _layout.Ports.Milter;

    public int AcceptSinkPort => _layout.Ports.AcceptSink;

    public int BounceSinkPort => _layout.Ports.BounceSink;

    public int PolicySinkPort => _layout.Ports.PolicySink;

    public int DeferSinkPort => _layout.Ports.DeferSink;

    /// <summary>A port where connections are refused (the next hop of <see cref="UnreachableDomain"/>).</summary>
    public int RefusingPort => _layout.Ports.Refusing;

    /// <summary>Every domain the transport map routes, with the port it goes to.</summary>
    public IReadOnlyDictionary<string, int> Domains => new Dictionary<string, int>
    {
        [AcceptDomain] = AcceptSinkPort,
        [SigningDomain] = AcceptSinkPort,
        [BounceDomain] = BounceSinkPort,
        [PolicyDomain] = PolicySinkPort,
        [DeferDomain] = DeferSinkPort,
        [UnreachableDomain] = RefusingPort,
    };

    /// <summary>
    /// Sends <paramref name="count"/> messages from <see cref="SenderAddress"/> to
    /// <c>user@recipientDomain</c> with smtp-source over <paramref name="sessions"/> parallel sessions,
    /// to the smtpd port unless <paramref name="port"/> says otherwise. Throws if a message is refused.
    /// </summary>
    public async Task SendWithSmtpSourceAsync(
        int count,
        string recipientDomain,
        int sessions = 1,
        string? subject = null,
        int? port = null,
        CancellationToken cancellationToken = default)
    {
        var arguments = new List<string>
        {
            "-M", ClientHeloName,
            "-f", SenderAddress,
            "-t", "user@" + recipientDomain,
            "-m", count.ToString(),
            "-s", sessions.ToString(),
        };
        if (subject is not null)
        {
            arguments.AddRange(["-S", subject]);
        }

        arguments.Add($"127.0.0.1:{port ?? SmtpPort}");
        await Tool.RunAsync(SmtpSource, arguments, cancellationToken, environment: MarkerEnvironment());
    }

    /// <summary>
    /// Submits <paramref name="count"/> messages to <c>user@recipientDomain</c> with
    /// <c>sendmail -C</c>: they go through postdrop, the maildrop queue and pickup.
    /// </summary>
    public async Task SendWithSendmailAsync(
        int count,
        string recipientDomain,
        string subject = "sendmail test",
        CancellationToken cancellationToken = default)
    {
        var recipient = "user@" + recipientDomain;
        for (var i = 1; i <= count; i++)
        {
            var message = $"From: {SenderAddress}\nTo: {recipient}\nSubject: {subject} {i}\n\nTest message {i} submitted with sendmail.\n";
            await Tool.RunAsync(
                Sendmail,
                ["-C", ConfigDirectory, "-f", SenderAddress, "-i", recipient],
                cancellationToken,
                message,
                MarkerEnvironment());
        }
    }

    /// <summary>The lines of the Postfix log so far (a line still being written is left out).</summary>
    public IReadOnlyList<string> ReadLogLines() => ReadCompleteLines(LogPath);

    /// <summary>The lines of OpenDKIM's log so far; throws when the log is not captured on this machine.</summary>
    public IReadOnlyList<string> ReadOpenDkimLogLines() =>
        ReadCompleteLines(OpenDkimLogPath ?? throw new InvalidOperationException("OpenDKIM's log is not captured on this machine."));

    /// <summary>Waits until <paramref name="condition"/> holds for the Postfix log and returns its lines.</summary>
    public Task<IReadOnlyList<string>> WaitForLogAsync(
        Func<IReadOnlyList<string>, bool> condition,
        TimeSpan timeout,
        CancellationToken cancellationToken = default) =>
        Eventually.UntilAsync(ReadLogLines, condition, timeout, lines => "Postfix log:\n" + Tail(lines), cancellationToken);

    /// <summary>Waits until <paramref name="condition"/> holds for OpenDKIM's log and returns its lines.</summary>
    public Task<IReadOnlyList<string>> WaitForOpenDkimLogAsync(
        Func<IReadOnlyList<string>, bool> condition,
        TimeSpan timeout,
        CancellationToken cancellationToken = default) =>
        Eventually.UntilAsync(ReadOpenDkimLogLines, condition, timeout, lines => "OpenDKIM log:\n" + Tail(lines), cancellationToken);

    /// <summary>The messages the accept sink has written so far, each with smtp-sink's X-Rcpt-Args headers on top.</summary>
    public IReadOnlyList<string> ReadAcceptedMessages()
    {
        var messages = new List<string>();
        foreach (var path in Directory.EnumerateFiles(AcceptedMessagesDirectory))
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            messages.Add(reader.ReadToEnd());
        }

        return messages;
    }

    /// <summary>The queue as <c>postqueue -j</c> lists it.</summary>
    public async Task<IReadOnlyList<PostfixQueueEntry>> GetQueueAsync(CancellationToken cancellationToken = default)
    {
        var result = await Tool.RunAsync(Postqueue, ["-c", ConfigDirectory, "-j"], cancellationToken);
        return PostfixQueueEntry.ParseJsonLines(result.StandardOutput);
    }

    public Task WaitUntilQueueEmptyAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Eventually.UntilAsync(
            GetQueueAsync,
            queue => queue.Count == 0,
            timeout,
            queue => $"{queue.Count} message(s) still queued: " +
                     string.Join("; ", queue.Take(10).Select(m => $"{m.QueueId} {m.QueueName} to {string.Join(',', m.Recipients)}")),
            cancellationToken);

    /// <summary><c>postqueue -f</c>: attempt every deferred message now.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) =>
        Tool.RunAsync(Postqueue, ["-c", ConfigDirectory, "-f"], cancellationToken);

    /// <summary>
    /// <c>postsuper -e ALL deferred</c>: marks every deferred message expired; the queue manager returns
    /// each to its sender at its next scan (see <see cref="FlushAsync"/>) without another delivery attempt.
    /// </summary>
    public Task ExpireDeferredAsync(CancellationToken cancellationToken = default) =>
        Tool.RunAsync(Postsuper, ["-c", ConfigDirectory, "-e", "ALL", "deferred"], cancellationToken, environment: MarkerEnvironment());

    /// <summary>Runs pflogsumm on the Postfix log (or on <paramref name="logPath"/>, e.g. a copy of it) and returns its report.</summary>
    public async Task<string> RunPflogsummAsync(string? logPath = null, CancellationToken cancellationToken = default)
    {
        var result = await Tool.RunAsync(
            Pflogsumm,
            ["-q", logPath ?? LogPath],
            cancellationToken,
            environment: new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        return result.StandardOutput;
    }

    /// <summary>
    /// The live processes of this instance: Postfix daemons (by their MAIL_CONFIG) and the children the
    /// harness started (by a marker variable). Empty after <see cref="DisposeAsync"/>.
    /// </summary>
    public IReadOnlyList<int> FindProcesses() => FindProcesses(RootDirectory);

    private static string[] ReadCompleteLines(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = reader.ReadToEnd();
        var end = text.LastIndexOf('\n');
        return end < 0 ? [] : text[..end].Split('\n');
    }

    private static string Tail(IReadOnlyList<string> lines) => string.Join('\n', lines.TakeLast(40));

    private void Diagnostic(string line) => _options.Diagnostics?.Invoke(line);
}
