using MailAgent.Certificates;
using MailAgent.Doctor;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Doctor;

public sealed class TransportDoctorTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 3, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("mailagent-doctor-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Served(Func<TlsEndpoint, ServedCertificate> serve) : ITlsProbe
    {
        public Task<ServedCertificate> ProbeAsync(TlsEndpoint endpoint, CancellationToken cancellationToken) => Task.FromResult(serve(endpoint));
    }

    private DoctorOptions Options => new()
    {
        SystemdUnitDirectories = Path.Combine(_dir, "units"),
        CertbotDeployHookDirectory = Path.Combine(_dir, "hooks"),
    };

    private async Task<Dictionary<string, DoctorItem>> RunAsync(Func<TlsEndpoint, ServedCertificate> serve) =>
        (await new TransportDoctor(Options, "mail.example.test", new Served(serve), new FakeTimeProvider(Now)).RunAsync(CancellationToken.None)).ToDictionary(i => i.Id);

    private static ServedCertificate Good(TlsEndpoint e) => new(e, "ab12", Now.AddDays(60), ["mail.example.test"], null);

    [Fact]
    public async Task Certificate_SameValidCertificateOnAllThree_Pass()
    {
        var items = await RunAsync(Good);

        Assert.Equal(DoctorStatus.Pass, items["transport.certificate"].Status);
    }

    [Fact]
    public async Task Certificate_WrongNameExpiringOrMissing_FailNamingEach()
    {
        var items = await RunAsync(e => e.Port switch
        {
            25 => new(e, "ab12", Now.AddDays(3), ["mail.example.test"], null),
            465 => new(e, "cd34", Now.AddDays(60), ["other.example.test"], null),
            _ => new(e, null, null, [], "cannot connect (ConnectionRefused)"),
        });

        var item = items["transport.certificate"];
        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.Contains("127.0.0.1:25's certificate expires on 2026-12-09, within 14 days", item.Why, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:465 (TLS) serves a certificate for other.example.test, not mail.example.test", item.Why, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:587: cannot connect", item.Why, StringComparison.Ordinal);
        Assert.Contains("serve different certificates", item.Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Certificate_ListenerWithoutIntermediate_FailNamingIt()
    {
        const string Missing = "chain incomplete: the issuer 'CN=R11, O=Let's Encrypt, C=US' of 'CN=mail.example.test' is neither sent by the listener nor trusted by the system";
        var items = await RunAsync(e => e.Port == 465
            ? Good(e) with { Chain = "mail.example.test", ChainProblem = Missing }
            : Good(e) with { Chain = "mail.example.test <- R11 <- ISRG Root X1 (trusted by the system)" });

        var item = items["transport.certificate"];
        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.Equal($"127.0.0.1:465 (TLS): {Missing}", item.Why);
        Assert.Contains(item.Evidence, e => e.EndsWith("chain mail.example.test <- R11 <- ISRG Root X1 (trusted by the system)", StringComparison.Ordinal));
        Assert.Contains("fullchain.pem", item.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Renewal_TimerAndDeployHook_Pass()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "units"));
        Directory.CreateDirectory(Path.Combine(_dir, "hooks"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "units", "certbot.timer"), "[Timer]\nOnCalendar=*-*-* 00,12:00:00\n");
        await File.WriteAllTextAsync(Path.Combine(_dir, "hooks", "mailagent"), "#!/bin/sh\nexec /usr/bin/mailagent cert-deployed\n");

        Assert.Equal(DoctorStatus.Pass, (await RunAsync(Good))["transport.renewal"].Status);
    }

    [Fact]
    public async Task Renewal_TimerWithoutOurHook_Fail()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "units"));
        Directory.CreateDirectory(Path.Combine(_dir, "hooks"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "units", "certbot.timer"), "[Timer]\n");
        await File.WriteAllTextAsync(Path.Combine(_dir, "hooks", "other"), "#!/bin/sh\nsystemctl reload nginx\n");

        var item = (await RunAsync(Good))["transport.renewal"];

        Assert.Equal(DoctorStatus.Fail, item.Status);
        Assert.StartsWith("no deploy hook", item.Why, StringComparison.Ordinal);
    }
}
