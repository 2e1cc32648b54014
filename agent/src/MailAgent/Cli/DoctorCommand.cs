using MailAgent.Certificates;
using MailAgent.Config;
using MailAgent.Doctor;
using MailAgent.Health.Dns;

namespace MailAgent.Cli;

/// <summary><c>mailagent doctor [--format text|json]</c>: the go-live checklist, checked from this host.</summary>
internal static class DoctorCommand
{
    public const string Synopsis = "mailagent doctor [--format text|json] [--config FILE] [Section:Key=value ...]";

    /// <summary>Runs every item and prints them as <paramref name="format"/> (text or json).</summary>
    public static async Task<int> RunAsync(string format, List<string> settings, CliContext context)
    {
        var config = AgentConfiguration.Build(settings, out _, out var errors);
        // The doctor needs only Postfix, Health:Dns and its own section; the rest of the agent's
        // configuration may be incomplete on a host that is not live yet.
        var postfix = new Postfix.PostfixOptions();
        var dnsOptions = new DnsCheckOptions();
        var options = new DoctorOptions();
        try
        {
            config.GetSection(Postfix.PostfixOptions.SectionName).Bind(postfix);
            config.GetSection(DnsCheckOptions.SectionName).Bind(dnsOptions);
            config.GetSection(DoctorOptions.SectionName).Bind(options);
        }
        catch (InvalidOperationException e)
        {
            errors.Add(e.Message);
        }

        options.Validate(errors);
        if (!DnsCheckOptions.TryParseResolver(dnsOptions.Resolver, out _))
            errors.Add($"Health:Dns:Resolver = '{dnsOptions.Resolver}' is not valid: use an IP address with an optional port, e.g. 127.0.0.1:5353");
        if (dnsOptions.HostAddressList().FirstOrDefault(a => !System.Net.IPAddress.TryParse(a, out _)) is { } bad)
            errors.Add($"Health:Dns:HostAddresses has '{bad}', which is not an address");
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            return 2;
        }

        dnsOptions.Timeout = options.Timeout;
        var dns = new DnsClientLookup(dnsOptions);
        var commands = new HostCommands(options.Timeout * 2);
        IDoctorCheck[] checks =
        [
            new DnsDoctor(dnsOptions, dns),
            new ReputationDoctor(options, dnsOptions, dns),
            new TransportDoctor(options, dnsOptions.HostName, new StartTlsProbe(options.Timeout, context.Time, "mailagent.doctor"), context.Time),
            new MtaStsPolicyDoctor(options, dnsOptions.Domain, dnsOptions.HostName),
            new DaneDoctor(options, dnsOptions.HostName, dns),
            new ServicesDoctor(options, postfix, new MailAgent.Postfix.PostfixCommands(postfix, context.Time, options.Timeout * 2), dnsOptions.HostAddressList() is [var first, ..] ? first : "", dnsOptions.Domain),
            new HostDoctor(options, commands),
            // Grpc:Listen as text: the doctor needs only the port the control plane dials.
            new PlatformDoctor(options, PlatformIdentity.From(options.ProviderName, dnsOptions.HostName, dnsOptions.HostAddressList(), config["Grpc:Listen"] ?? "")),
        ];
        var report = await DoctorRunner.RunAsync(checks, CancellationToken.None);

        await context.Out.FlushAsync();
        if (format == "json")
        {
            DoctorRunner.Json(context.OutStream, report);
            await context.OutStream.WriteAsync("\n"u8.ToArray());
        }
        else
        {
            await context.Out.WriteAsync(DoctorRunner.Text(report));
            await context.Out.FlushAsync();
        }

        await context.OutStream.FlushAsync();
        return report.ExitCode;
    }
}
