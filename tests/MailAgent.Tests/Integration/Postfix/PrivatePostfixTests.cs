using System.Text.RegularExpressions;
using Xunit.Abstractions;
using static MailAgent.Tests.Integration.Postfix.PrivatePostfix;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>Runs a real private Postfix with OpenDKIM and smtp-sink next hops on 127.0.0.1.</summary>
[Trait("Category", "Integration")]
public sealed partial class PrivatePostfixTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [ServerFact("postfix", "opendkim")]
    public async Task Send_EveryOutcome_LogOpenDkimAndPflogsummAgreeWithWhatWasSent()
    {
        await using var postfix = await StartAsync(new PrivatePostfixOptions { Diagnostics = output.WriteLine });

        await Task.WhenAll(
            postfix.SendWithSmtpSourceAsync(20, AcceptDomain, sessions: 4, subject: "accepted"),
            postfix.SendWithSmtpSourceAsync(5, BounceDomain, subject: "bounced 5.1.1"),
            postfix.SendWithSmtpSourceAsync(2, PolicyDomain, subject: "bounced 5.7.1"),
            postfix.SendWithSmtpSourceAsync(5, DeferDomain, subject: "deferred 4.7.1"),
            postfix.SendWithSmtpSourceAsync(3, UnreachableDomain, subject: "connection refused"),
            postfix.SendWithSendmailAsync(3, AcceptDomain));

        // 23 delivered to accept.test, 7 bounced, 8 deferred at least once, and the 7 bounce notices
        // delivered to the sender's domain.
        var log = await postfix.WaitForLogAsync(
            lines => QueueIds(lines, "sent", AcceptDomain).Count >= 23
                     && QueueIds(lines, "sent", SigningDomain).Count >= 7
                     && QueueIds(lines, "bounced", BounceDomain).Count >= 5
                     && QueueIds(lines, "bounced", PolicyDomain).Count >= 2
                     && QueueIds(lines, "deferred", DeferDomain).Count >= 5
                     && QueueIds(lines, "deferred", UnreachableDomain).Count >= 3,
            Timeout);

        Assert.Equal(23, QueueIds(log, "sent", AcceptDomain).Count);
        Assert.Equal(7, QueueIds(log, "sent", SigningDomain).Count);
        Assert.Equal(5, QueueIds(log, "bounced", BounceDomain, "5.1.1").Count);
        Assert.Equal(2, QueueIds(log, "bounced", PolicyDomain, "5.7.1").Count);
        Assert.Equal(5, QueueIds(log, "deferred", DeferDomain, "4.7.1").Count);
        Assert.Equal(3, QueueIds(log, "deferred", UnreachableDomain, "4.4.1").Count);
        Assert.Contains(log, l => l.Contains($"status=deferred (connect to 127.0.0.1[127.0.0.1]:{postfix.RefusingPort}: Connection refused)", StringComparison.Ordinal));
        var pickedUp = log.Select(l => PickupLine().Match(l)).Where(m => m.Success).Select(m => m.Groups["id"].Value).ToHashSet();
        Assert.Equal(3, pickedUp.Count);
        Assert.Subset(QueueIds(log, "sent", AcceptDomain), pickedUp);
        Assert.DoesNotContain(log, l => l.Contains(" fatal: ", StringComparison.Ordinal)
                                        || l.Contains(" panic: ", StringComparison.Ordinal)
                                        || l.Contains(" error: ", StringComparison.Ordinal));
        foreach (var warning in log.Where(l => l.Contains(" warning: ", StringComparison.Ordinal)))
        {
            output.WriteLine("postfix " + warning);
        }

        // Every message to accept.test arrives signed; bounce notices are not filtered
        // (internal_mail_filter_classes is empty by default), so they arrive unsigned.
        var accepted = await Eventually.UntilAsync(
            postfix.ReadAcceptedMessages,
            messages => messages.Count(m => IsTo(m, AcceptDomain) && IsSigned(m)) >= 23 && messages.Count(m => IsTo(m, SigningDomain)) >= 7,
            Timeout,
            messages => $"{messages.Count} messages in the accept sink, {messages.Count(IsSigned)} signed");
        Assert.Equal(23, accepted.Count(m => IsTo(m, AcceptDomain)));
        Assert.All(accepted.Where(m => IsTo(m, AcceptDomain)), m => Assert.True(IsSigned(m), m));
        Assert.All(accepted.Where(m => IsTo(m, SigningDomain)), m => Assert.False(IsSigned(m), m));

        if (postfix.OpenDkimLogCaptured)
        {
            // One signing line per message received (38), each naming a queue id smtpd or pickup gave it.
            var received = log.Select(l => ReceivedLine().Match(l)).Where(m => m.Success).Select(m => m.Groups["id"].Value).ToHashSet();
            Assert.Equal(38, received.Count);
            var dkim = await postfix.WaitForOpenDkimLogAsync(lines => SignedIds(lines).Count >= 38, Timeout);
            Assert.Equal(received.Order(), SignedIds(dkim).Order());
            Assert.Contains(dkim, l => l.Contains("opendkim[", StringComparison.Ordinal) && l.Contains(" starting (args:", StringComparison.Ordinal));
            Assert.DoesNotContain(dkim, l => l.Contains("error", StringComparison.OrdinalIgnoreCase)
                                             || l.Contains("not secure", StringComparison.Ordinal));
        }
        else
        {
            output.WriteLine("OpenDKIM's syslog lines are not capturable on this machine; signing checked through the headers only");
        }

        var report = await postfix.RunPflogsummAsync();
        output.WriteLine(report[..Math.Min(report.Length, 800)]);
        var totals = PflogsummGrandTotals.Parse(report);
        Assert.Equal(38, totals.Received);
        Assert.Equal(23 + 7, totals.Delivered);
        Assert.Equal(7, totals.Bounced);
        Assert.Equal(8, totals.Deferred);
        Assert.InRange(totals.Deferrals, 8, long.MaxValue);
        Assert.Equal(0, totals.Rejected);
        Assert.Equal(0, totals.Forwarded);

        // Only the deferred mail is still queued, and a flush makes Postfix try it again.
        var queue = await postfix.GetQueueAsync();
        Assert.Equal(8, queue.Count);
        Assert.All(queue, m => Assert.Contains(m.Recipients, r => r.EndsWith("@" + DeferDomain, StringComparison.Ordinal)
                                                             || r.EndsWith("@" + UnreachableDomain, StringComparison.Ordinal)));
        var deferrals = Deferrals(postfix.ReadLogLines());
        await postfix.FlushAsync();
        await postfix.WaitForLogAsync(lines => Deferrals(lines) >= deferrals + 8, Timeout);
    }

    [ServerFact("postfix", "opendkim")]
    public async Task StartAsync_TwoInstancesInParallel_AreIsolatedAndDisposeLeavesNothingBehind()
    {
        var options = new PrivatePostfixOptions { Diagnostics = output.WriteLine };
        var instances = await Task.WhenAll(StartAsync(options), StartAsync(options));
        var ports = instances.SelectMany(Ports).ToList();
        try
        {
            Assert.NotEqual(instances[0].RootDirectory, instances[1].RootDirectory);
            Assert.Equal(ports.Count, ports.Distinct().Count());
            foreach (var postfix in instances)
            {
                Assert.StartsWith("220 ", await SmtpProbe.TryReadGreetingAsync(postfix.SmtpPort, CancellationToken.None));
                Assert.StartsWith("220 ", await SmtpProbe.TryReadGreetingAsync(postfix.SubmissionPort, CancellationToken.None));
                Assert.NotEmpty(postfix.FindProcesses());
            }

            // Each instance delivers what it receives, on either port, and logs only its own mail.
            await Task.WhenAll(instances.Select(p => Task.WhenAll(
                p.SendWithSmtpSourceAsync(1, AcceptDomain),
                p.SendWithSmtpSourceAsync(1, AcceptDomain, port: p.SubmissionPort))));
            var logs = await Task.WhenAll(instances.Select(p =>
                p.WaitForLogAsync(lines => QueueIds(lines, "sent", AcceptDomain).Count >= 2, Timeout)));
            Assert.Contains(logs[0], l => l.Contains("postfix/submission/smtpd[", StringComparison.Ordinal));
            Assert.Empty(QueueIds(logs[0], "sent", AcceptDomain).Intersect(QueueIds(logs[1], "sent", AcceptDomain)));
            await Task.WhenAll(instances.Select(p => p.WaitUntilQueueEmptyAsync(Timeout)));
        }
        finally
        {
            // Both are disposed even if the first one's clean-up fails.
            await Task.WhenAll(instances.Select(p => p.DisposeAsync().AsTask()));
        }

        foreach (var postfix in instances)
        {
            Assert.False(Directory.Exists(postfix.RootDirectory), postfix.RootDirectory);
            Assert.Empty(postfix.FindProcesses());
        }

        foreach (var port in ports)
        {
            Assert.False(await SmtpProbe.CanConnectAsync(port, CancellationToken.None), $"port {port} still answers");
        }
    }

    [ServerFact("postfix", "opendkim")]
    public async Task DisposeAsync_PostlogdWedged_StopIsBoundedAndEveryProcessKilled()
    {
        var postfix = await StartAsync(new PrivatePostfixOptions { Diagnostics = output.WriteLine });
        var processes = postfix.FindProcesses();
        try
        {
            // As seen once in CI: postlogd no longer reads its socket and the socket's queue is full, so every Postfix
            // program that logs (postfix-script and 'master -t' inside 'postfix stop' among them) blocks.
            int postlogd = processes.Single(pid => File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("postlogd", StringComparison.Ordinal));
            await Tool.RunAsync("kill", ["-STOP", postlogd.ToString(System.Globalization.CultureInfo.InvariantCulture)], CancellationToken.None);
            using var flood = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Unspecified) { Blocking = false };
            var postlog = new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(postfix.QueueDirectory, "public", "postlog"));
            int sent = 0;
            try
            {
                for (; sent < 100_000; sent++)
                    flood.SendTo("<22>postfix/test[1]: filler"u8, postlog);
            }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.WouldBlock)
            {
            }

            output.WriteLine($"postlog socket full after {sent} datagrams");
            Assert.InRange(sent, 1, 99_999);
        }
        finally
        {
            await postfix.DisposeAsync();
        }

        Assert.False(Directory.Exists(postfix.RootDirectory), postfix.RootDirectory);
        Assert.All(processes, pid => Assert.False(ProcessSweep.IsAlive(pid), $"{pid} survived"));
    }

    [ServerFact("postfix", "opendkim")]
    public async Task RemoveStaleInstancesAsync_OwnerGone_KillsItsProcessesAndKeepsLiveInstances()
    {
        var stale = Directory.CreateTempSubdirectory("mailagent-pf-").FullName;
        var live = Directory.CreateTempSubdirectory("mailagent-pf-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(stale, "owner"), "2147483647 0");
            await File.WriteAllTextAsync(Path.Combine(live, "owner"), OwnerStamp(Environment.ProcessId));
            await using var orphan = ChildProcess.Start(
                "orphan", "/bin/sleep", ["300"], new Dictionary<string, string?> { [MarkerVariable] = stale });
            await Eventually.UntilAsync(
                () => ProcessSweep.FindByEnvironment(MarkerVariable, stale),
                pids => pids.Contains(orphan.ProcessId),
                Timeout,
                pids => $"orphan {orphan.ProcessId} not found by its marker: {string.Join(' ', pids)}");

            var report = await RemoveStaleInstancesAsync();

            // Another instance starting in this process may have swept it first: check the outcome.
            output.WriteLine(string.Join('\n', report));
            Assert.False(Directory.Exists(stale));
            Assert.True(Directory.Exists(live));
            await Eventually.UntilAsync(() => orphan.HasExited, exited => exited, Timeout, _ => "orphan still runs");
        }
        finally
        {
            foreach (var root in new[] { stale, live }.Where(Directory.Exists))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static IEnumerable<int> Ports(PrivatePostfix postfix) =>
    [
        postfix.SmtpPort, postfix.SubmissionPort, postfix.MilterPort, postfix.AcceptSinkPort,
        postfix.BounceSinkPort, postfix.PolicySinkPort, postfix.DeferSinkPort, postfix.RefusingPort,
    ];

    /// <summary>Queue ids of smtp delivery lines with this status to this domain (and DSN code prefix).</summary>
    private static HashSet<string> QueueIds(IEnumerable<string> lines, string status, string domain, string dsn = "") =>
        lines.Select(l => DeliveryLine().Match(l))
            .Where(m => m.Success
                        && m.Groups["status"].Value == status
                        && m.Groups["domain"].Value == domain
                        && m.Groups["dsn"].Value.StartsWith(dsn, StringComparison.Ordinal))
            .Select(m => m.Groups["id"].Value)
            .ToHashSet();

    private static int Deferrals(IEnumerable<string> lines) =>
        lines.Count(l => l.Contains(" status=deferred ", StringComparison.Ordinal));

    private static List<string> SignedIds(IEnumerable<string> lines) =>
        [.. lines.Select(l => SignedLine().Match(l)).Where(m => m.Success).Select(m => m.Groups["id"].Value)];

    private static bool IsTo(string message, string domain) =>
        message.Contains(
            domain == SigningDomain ? $"X-Rcpt-Args: <{SenderAddress}>" : $"X-Rcpt-Args: <user@{domain}>",
            StringComparison.Ordinal);

    private static bool IsSigned(string message)
    {
        // Only the top-level header: a bounce notice quotes the (signed) original in its body.
        var endOfHeader = message.IndexOf("\n\n", StringComparison.Ordinal);
        var header = DkimSignatureHeader().Match(endOfHeader < 0 ? message : message[..endOfHeader]);
        if (!header.Success)
        {
            return false;
        }

        var unfolded = Regex.Replace(header.Value, @"\r?\n[ \t]+", " ");
        return unfolded.Contains($"d={SigningDomain};", StringComparison.Ordinal)
               && unfolded.Contains($"s={DkimSelector};", StringComparison.Ordinal);
    }

    [GeneratedRegex(@" postfix/smtp\[\d+\]: (?<id>[0-9A-F]+): to=<[^@>]*@(?<domain>[^>]+)>, .*?, dsn=(?<dsn>[0-9.]+), status=(?<status>[a-z]+) ")]
    private static partial Regex DeliveryLine();

    [GeneratedRegex(@" postfix/pickup\[\d+\]: (?<id>[0-9A-F]+): uid=0 from=<sender@example\.test>$")]
    private static partial Regex PickupLine();

    [GeneratedRegex(@" postfix/(?:smtpd\[\d+\]: (?<id>[0-9A-F]+): client=|pickup\[\d+\]: (?<id>[0-9A-F]+): uid=)")]
    private static partial Regex ReceivedLine();

    [GeneratedRegex(@" opendkim\[\d+\]: (?<id>[0-9A-F]+): DKIM-Signature field added \(s=mail-2026, d=example\.test\)$")]
    private static partial Regex SignedLine();

    [GeneratedRegex(@"^DKIM-Signature:.*(?:\r?\n[ \t].*)*", RegexOptions.Multiline)]
    private static partial Regex DkimSignatureHeader();
}
