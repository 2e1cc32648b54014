using MailAgent.Doctor;
using MailAgent.Postfix;
using MailAgent.Tests.Certificates;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Doctor;

/// <summary>
/// The services items against a private Postfix on loopback: STARTTLS with a real certificate or
/// none; the open-relay probe from 127.0.0.3, outside mynetworks = 127.0.0.1/32 (refused) or inside
/// a too-wide mynetworks = 127.0.0.0/8 (accepted: an open relay); 'postfix check' of the instance
/// (clean, or warning about a duplicate main.cf entry).
/// </summary>
public sealed class DoctorPostfixIntegrationTests(ITestOutputHelper output) : IDisposable
{
    private const string Host = "mail." + PrivatePostfix.SigningDomain;
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-doctor-postfix-").FullName;
    private readonly TestCertificates _certs = new(DateTimeOffset.UtcNow);

    public void Dispose()
    {
        _certs.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<Dictionary<string, DoctorItem>> RunAsync(bool tls, string? mynetworks)
    {
        string? chain = null;
        if (tls)
        {
            var now = DateTimeOffset.UtcNow;
            chain = Path.Combine(_dir, "chain.pem");
            await File.WriteAllTextAsync(chain, _certs.Leaf([Host], now.AddDays(-1), now.AddDays(60)).ChainFile);
        }

        await using var postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions
        {
            TlsChainFile = chain,
            // null keeps the harness's mynetworks = 127.0.0.0/8 (so main.cf has no duplicate entry).
            ExtraMainCf = mynetworks == null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["mynetworks"] = mynetworks },
            Diagnostics = output.WriteLine,
        });
        var options = new DoctorOptions
        {
            SmtpPort = postfix.SmtpPort, SubmissionPort = postfix.SubmissionPort, SubmissionsPort = postfix.RefusingPort,
            // accept.test is not a domain this instance serves, but its transport delivers to a sink,
            // so a relay that is allowed gets 250 rather than a rejection for an undeliverable domain.
            RelayProbeSource = "127.0.0.3", RelayProbeRecipient = "relay-probe@" + PrivatePostfix.AcceptDomain, Timeout = TimeSpan.FromSeconds(10),
        };
        var postfixOptions = new PostfixOptions { ConfigDirectory = postfix.ConfigDirectory };
        var items = await new ServicesDoctor(options, postfixOptions, new PostfixCommands(postfixOptions)).RunAsync(CancellationToken.None);
        foreach (var item in items)
            output.WriteLine($"{item.Id}: {item.Status}: {item.Why}\n  {string.Join("\n  ", item.Evidence)}");
        return items.ToDictionary(i => i.Id);
    }

    [Fact]
    public async Task Services_PostfixWithTlsAndNarrowMynetworks_StartTlsAndRelayPass()
    {
        var items = await RunAsync(tls: true, mynetworks: "127.0.0.1/32");

        Assert.Equal(DoctorStatus.Pass, items["services.starttls"].Status);
        Assert.Equal(DoctorStatus.Pass, items["services.open-relay"].Status);
        Assert.Contains("Relay access denied", items["services.open-relay"].Why, StringComparison.Ordinal);
        // The harness writes mynetworks twice here (its own, then the test's): postfix check says so.
        Assert.Equal(DoctorStatus.Warn, items["services.postfix-check"].Status);
        Assert.Contains(items["services.postfix-check"].Evidence, e => e.Contains("overriding earlier entry: mynetworks", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Services_PostfixWithoutTlsAndWideMynetworks_StartTlsAndRelayFail()
    {
        var items = await RunAsync(tls: false, mynetworks: null);

        Assert.Equal(DoctorStatus.Fail, items["services.starttls"].Status);
        Assert.Equal(DoctorStatus.Fail, items["services.open-relay"].Status);
        Assert.StartsWith("OPEN RELAY", items["services.open-relay"].Why, StringComparison.Ordinal);
        // The private instance has no 465 listener: the refusing port stands in for a closed one.
        Assert.Equal(DoctorStatus.Fail, items["services.listening"].Status);
        Assert.Equal(DoctorStatus.Pass, items["services.postfix-check"].Status);
    }

    [Fact]
    public async Task Sasl_DovecotBehindSubmission_RightPasswordPassesWrongFails()
    {
        const string User = "probe@example.test";
        await using var dovecot = await PrivateDovecot.StartAsync(User, "s3cret-Probe");
        var now = DateTimeOffset.UtcNow;
        string chain = Path.Combine(_dir, "chain.pem");
        await File.WriteAllTextAsync(chain, _certs.Leaf([Host], now.AddDays(-1), now.AddDays(60)).ChainFile);
        await using var postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions
        {
            TlsChainFile = chain,
            ExtraMainCf = new Dictionary<string, string>
            {
                ["smtpd_sasl_auth_enable"] = "yes",
                ["smtpd_sasl_type"] = "dovecot",
                ["smtpd_sasl_path"] = $"inet:127.0.0.1:{dovecot.AuthPort}",
                ["smtpd_tls_auth_only"] = "yes",
            },
            Diagnostics = output.WriteLine,
        });
        string right = Path.Combine(_dir, "right");
        string wrong = Path.Combine(_dir, "wrong");
        await File.WriteAllTextAsync(right, "s3cret-Probe\n");
        await File.WriteAllTextAsync(wrong, "not-the-password\n");

        async Task<DoctorItem> SaslAsync(string passwordFile)
        {
            var options = new DoctorOptions
            {
                SmtpPort = postfix.SmtpPort, SubmissionPort = postfix.SubmissionPort, SubmissionsPort = postfix.RefusingPort,
                SaslProbeUser = User, SaslProbePasswordFile = passwordFile, Timeout = TimeSpan.FromSeconds(10),
            };
            var items = await new ServicesDoctor(options, new PostfixOptions { ConfigDirectory = postfix.ConfigDirectory }, new PostfixCommands(new PostfixOptions { ConfigDirectory = postfix.ConfigDirectory }))
                .RunAsync(CancellationToken.None);
            var item = items.Single(i => i.Id == "services.sasl");
            output.WriteLine($"{item.Status}: {item.Why}\n  {string.Join("\n  ", item.Evidence)}");
            return item;
        }

        var pass = await SaslAsync(right);
        var fail = await SaslAsync(wrong);

        Assert.Equal(DoctorStatus.Pass, pass.Status);
        Assert.Equal(DoctorStatus.Fail, fail.Status);
        Assert.Contains("535", fail.Why, StringComparison.Ordinal);
        Assert.DoesNotContain(fail.Evidence, e => e.Contains("not-the-password", StringComparison.Ordinal));
    }

    private async Task<DoctorItem> DkimSigningAsync(bool stopOpenDkim)
    {
        // The operator's route: the probe recipient's domain goes to the doctor's own loopback sink.
        // From the same allocator as the harness's own ports, so the instance started below cannot be
        // handed this one too (a port picked on its own collided with a sink's once in CI).
        int sinkPort = LoopbackPorts.Allocate(1)[0];
        string transport = Path.Combine(_dir, "transport");
        await File.WriteAllTextAsync(transport, $"dkim-probe.test smtp:[127.0.0.1]:{sinkPort}\n");
        await using var postfix = await PrivatePostfix.StartAsync(new PrivatePostfixOptions
        {
            ExtraMainCf = new Dictionary<string, string> { ["transport_maps"] = "texthash:" + transport },
            Diagnostics = output.WriteLine,
        });
        if (stopOpenDkim)
            await postfix.StopOpenDkimAsync();
        var options = new DoctorOptions
        {
            SmtpPort = postfix.SmtpPort, SubmissionPort = postfix.SubmissionPort, SubmissionsPort = postfix.RefusingPort,
            DkimProbeRecipient = "doctor@dkim-probe.test", DkimSinkPort = sinkPort,
            Timeout = TimeSpan.FromSeconds(10), DkimProbeWait = TimeSpan.FromSeconds(60),
        };
        var items = await new ServicesDoctor(options, new PostfixOptions { ConfigDirectory = postfix.ConfigDirectory }, new PostfixCommands(new PostfixOptions { ConfigDirectory = postfix.ConfigDirectory }), "", PrivatePostfix.SigningDomain)
            .RunAsync(CancellationToken.None);
        var item = items.Single(i => i.Id == "services.dkim-signing");
        output.WriteLine($"{item.Status}: {item.Why}\n  {string.Join("\n  ", item.Evidence)}");
        return item;
    }

    [Fact]
    public async Task DkimSigning_PostfixWithOpenDkim_MessageArrivesSignedPasses()
    {
        var item = await DkimSigningAsync(stopOpenDkim: false);

        Assert.Equal(DoctorStatus.Pass, item.Status);
        Assert.Contains($"d={PrivatePostfix.SigningDomain} s={PrivatePostfix.DkimSelector}", item.Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DkimSigning_OpenDkimStopped_MessageArrivesUnsignedFails()
    {
        // milter_default_action = accept (the harness's default, as on a production host): mail flows unsigned.
        var item = await DkimSigningAsync(stopOpenDkim: true);

        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.Contains("without a DKIM-Signature", item.Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DkimSigning_NoRecipientConfigured_Skips()
    {
        var items = await new ServicesDoctor(new DoctorOptions { SmtpPort = 1, SubmissionPort = 1, SubmissionsPort = 1, Timeout = TimeSpan.FromSeconds(1) },
            new PostfixOptions(), new PostfixCommands(new PostfixOptions()), "", "example.test").RunAsync(CancellationToken.None);

        Assert.Equal(DoctorStatus.Skip, items.Single(i => i.Id == "services.dkim-signing").Status);
    }
}
