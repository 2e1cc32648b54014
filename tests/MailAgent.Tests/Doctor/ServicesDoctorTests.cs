using System.Security.Cryptography.X509Certificates;
using MailAgent.Doctor;
using MailAgent.Postfix;
using MailAgent.Tests.Certificates;
using MailAgent.Tests.Postfix;

namespace MailAgent.Tests.Doctor;

/// <summary>The services items against scripted SMTP listeners on loopback, and 'postfix check' through the command seam.</summary>
public sealed class ServicesDoctorTests : IDisposable
{
    private readonly X509Certificate2 _certificate;

    public ServicesDoctorTests()
    {
        var pair = TestCertificates.SelfSigned("mail.example.test", DateTimeOffset.UtcNow);
        using var pem = X509Certificate2.CreateFromPem(pair.CertificatePem, pair.KeyPem);
        _certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose() => _certificate.Dispose();

    private static FakePostfixCommands PostfixCheck(int exitCode, string output) =>
        new() { Postfix = arguments => arguments is ["check"] ? new PostfixResult(true, exitCode, "", output) : throw new InvalidOperationException(string.Join(' ', arguments)) };

    private async Task<Dictionary<string, DoctorItem>> RunAsync(
        string[] smtpBefore, string[] submissionBefore, string[] submissionAfter, string[] submissionsAfter, bool submissionsUp = true, FakePostfixCommands? commands = null)
    {
        await using var smtp = new ScriptedSmtpServer(_certificate, false, smtpBefore, ["PIPELINING"]);
        await using var submission = new ScriptedSmtpServer(_certificate, false, submissionBefore, submissionAfter);
        var submissions = new ScriptedSmtpServer(_certificate, true, [], submissionsAfter);
        int submissionsPort = submissions.Port;
        if (!submissionsUp)
            await submissions.DisposeAsync();
        try
        {
            var options = new DoctorOptions { SmtpPort = smtp.Port, SubmissionPort = submission.Port, SubmissionsPort = submissionsPort, Timeout = TimeSpan.FromSeconds(10) };
            var items = await new ServicesDoctor(options, new PostfixOptions { ConfigDirectory = "/etc/postfix-test" }, commands ?? PostfixCheck(0, ""))
                .RunAsync(CancellationToken.None);
            return items.ToDictionary(i => i.Id);
        }
        finally
        {
            if (submissionsUp)
                await submissions.DisposeAsync();
        }
    }

    [Fact]
    public async Task Services_WellConfiguredListeners_AllPass()
    {
        var items = await RunAsync(["PIPELINING", "STARTTLS"], ["PIPELINING", "STARTTLS"], ["PIPELINING", "AUTH PLAIN LOGIN"], ["AUTH PLAIN LOGIN"]);

        Assert.Equal(DoctorStatus.Pass, items["services.listening"].Status);
        Assert.Equal(DoctorStatus.Pass, items["services.starttls"].Status);
        Assert.True(items["services.auth"].Status == DoctorStatus.Pass, items["services.auth"].Why);
        Assert.Equal(DoctorStatus.Pass, items["services.postfix-check"].Status);
    }

    [Fact]
    public async Task Services_SubmissionsDown_ListeningFails()
    {
        var items = await RunAsync(["STARTTLS"], ["STARTTLS"], ["AUTH PLAIN"], ["AUTH PLAIN"], submissionsUp: false);

        Assert.Equal(DoctorStatus.Fail, items["services.listening"].Status);
        Assert.StartsWith("nothing answers on ", items["services.listening"].Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Services_NoStartTlsOnPort25_StartTlsFails()
    {
        var items = await RunAsync(["PIPELINING"], ["STARTTLS"], ["AUTH PLAIN"], ["AUTH PLAIN"]);

        Assert.Equal(DoctorStatus.Fail, items["services.starttls"].Status);
        Assert.Contains("does not offer STARTTLS", items["services.starttls"].Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Services_AuthBeforeTlsOnSubmission_AuthFails()
    {
        var items = await RunAsync(["STARTTLS"], ["STARTTLS", "AUTH PLAIN LOGIN"], ["AUTH PLAIN LOGIN"], ["AUTH PLAIN"]);

        Assert.Equal(DoctorStatus.Fail, items["services.auth"].Status);
        Assert.Contains("offers AUTH before STARTTLS", items["services.auth"].Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Services_AuthOnPort25_AuthFails()
    {
        var items = await RunAsync(["STARTTLS", "AUTH=PLAIN"], ["STARTTLS"], ["AUTH PLAIN"], ["AUTH PLAIN"]);

        Assert.Equal(DoctorStatus.Fail, items["services.auth"].Status);
        Assert.Contains("offers AUTH; the MTA port must not take logins", items["services.auth"].Why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "", "Pass")]
    [InlineData(0, "postfix/postfix-script: warning: group or other writable: /etc/postfix/main.cf", "Warn")]
    [InlineData(1, "postfix: fatal: bad string length 0 < 1: mydomain =", "Fail")]
    public async Task PostfixCheck_Outcome_StatusAndTheCommandRun(int exitCode, string output, string expected)
    {
        var commands = PostfixCheck(exitCode, output);

        var items = await RunAsync(["STARTTLS"], ["STARTTLS"], ["AUTH PLAIN"], ["AUTH PLAIN"], commands: commands);

        Assert.Equal(Enum.Parse<DoctorStatus>(expected), items["services.postfix-check"].Status);
        Assert.Equal(["postfix check"], commands.Ran);
        Assert.Contains("'postfix -c /etc/postfix-test check'", items["services.postfix-check"].Why, StringComparison.Ordinal);
    }
}
