using System.Globalization;
using MailAgent.ConfigApply;
using MailAgent.Certificates;
using MailAgent.Grpc;
using MailAgent.Health;
using MailAgent.LogTailing;
using MailAgent.Postfix;
using MailAgent.Queue;
using static MailAgent.Common.ConfigChecks;

namespace MailAgent.Config;

/// <summary>
/// Builds the agent's configuration (JSON file, then MAILAGENT__ environment variables, then
/// Section:Key=value arguments) and checks every key, naming the key, the value and what is valid.
/// </summary>
internal static class AgentConfiguration
{
    public const string DefaultFile = "/etc/mailagent/agent.json";

    /// <summary>The sections of agent.json, and the keys that take a list or an object.</summary>
    public static readonly Common.ConfigurationShape Shape = new(
        "agent",
        ["AgentLog", "Certificates", "ConfigApply", "Correlation", "Doctor", "Events", "Grpc", "Health", "Http", "LogTailing", "Memory", "Postfix", "Queue"],
        ["Health:Dns", "Certificates:ReloadCommands"]);

    public static IConfigurationRoot Build(IReadOnlyList<string> args, out string? configFile, out List<string> errors) =>
        Common.LayeredConfiguration.Build(args, DefaultFile, "MAILAGENT__", out configFile, out errors, Shape);

    /// <summary>Reads and checks every section; returns the errors, one line each.</summary>
    public static List<string> Validate(IConfiguration config, out AgentSettings settings)
    {
        var errors = Validate(config, out var tail, out var http, out var correlation, out var log, out var grpc, out var queue);
        errors.AddRange(ValidateHealth(config, out var health));
        var p = new PostfixOptions();
        Bind(() => config.GetSection(PostfixOptions.SectionName).Bind(p, Strict), nameof(PostfixOptions), errors);
        PostfixOptions.Validate(p, errors);
        var apply = new ConfigApplyOptions();
        Bind(() => config.GetSection(ConfigApplyOptions.SectionName).Bind(apply, Strict), nameof(ConfigApplyOptions), errors);
        ConfigApplyOptions.Validate(apply, errors);
        var certificates = new CertificateOptions();
        Bind(() => config.GetSection(CertificateOptions.SectionName).Bind(certificates, Strict), nameof(CertificateOptions), errors);
        CertificateOptions.Validate(certificates, errors);
        var events = Events.EventsOptions.Read(config, errors);
        var memory = new MemoryOptions();
        Bind(() => config.GetSection(MemoryOptions.SectionName).Bind(memory, Strict), nameof(MemoryOptions), errors);
        settings = new AgentSettings(tail, http, correlation, log, grpc, queue, health, p, apply, certificates) { Events = events, Memory = memory };
        return errors;
    }

    private static List<string> Validate(IConfiguration config, out TailOptions tail, out HttpOptions http, out CorrelationOptions correlation, out AgentLogOptions log, out GrpcOptions grpc, out QueueOptions queue)
    {
        var errors = new List<string>();
        // One concrete Bind call per section: the configuration binder's source generator
        // (needed for Native AOT) handles concrete types only.
        var t = tail = new TailOptions();
        var h = http = new HttpOptions();
        var c = correlation = new CorrelationOptions();
        var l = log = new AgentLogOptions();
        var g = grpc = new GrpcOptions();
        var q = queue = new QueueOptions();
        Bind(() => config.GetSection(TailOptions.SectionName).Bind(t, Strict), nameof(TailOptions), errors);
        Bind(() => config.GetSection(HttpOptions.SectionName).Bind(h, Strict), nameof(HttpOptions), errors);
        Bind(() => config.GetSection(CorrelationOptions.SectionName).Bind(c, Strict), nameof(CorrelationOptions), errors);
        Bind(() => config.GetSection(AgentLogOptions.SectionName).Bind(l, Strict), nameof(AgentLogOptions), errors);
        Bind(() => config.GetSection(GrpcOptions.SectionName).Bind(g, Strict), nameof(GrpcOptions), errors);
        Bind(() => config.GetSection(QueueOptions.SectionName).Bind(q, Strict), nameof(QueueOptions), errors);

        if (string.IsNullOrWhiteSpace(tail.Path))
            errors.Add("LogTailing:Path is empty: set it to the Postfix log file, e.g. /var/log/mail.log or Postfix's maillog_file");
        if (string.IsNullOrWhiteSpace(tail.StateDirectory))
            errors.Add("LogTailing:StateDirectory is empty: set it to a directory the agent may write, e.g. /var/lib/mailagent");
        else if (File.Exists(tail.StateDirectory))
            errors.Add($"LogTailing:StateDirectory = '{tail.StateDirectory}' is a file, not a directory: name a directory the agent may write (it is created when missing), e.g. /var/lib/mailagent");
        else if (FirstFileOnPath(tail.StateDirectory) is { } blocking)
            errors.Add($"LogTailing:StateDirectory = '{tail.StateDirectory}' cannot be created: '{blocking}' is a file, not a directory");
        Range(errors, "LogTailing:PollInterval", tail.PollInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        Range(errors, "LogTailing:CheckpointInterval", tail.CheckpointInterval, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(10));
        Range(errors, "LogTailing:RotatedFileGrace", tail.RotatedFileGrace, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        if (!Enum.IsDefined(tail.StartAt))
            errors.Add($"LogTailing:StartAt = '{tail.StartAt}' is not valid: use End or Beginning");

        foreach (var url in http.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "http" || !string.IsNullOrEmpty(uri.PathAndQuery.Trim('/')))
                errors.Add($"Http:Urls has '{url}', which is not valid: use http://ADDRESS:PORT (port 0 picks a free port), several separated by ';'");
        }

        if (string.IsNullOrWhiteSpace(http.Urls))
            errors.Add("Http:Urls is empty: set it to e.g. http://127.0.0.1:9160");
        if (correlation.MaxMessages is < 1000 or > 10_000_000)
            errors.Add($"Correlation:MaxMessages = {correlation.MaxMessages} is not valid: use 1000 to 10000000");
        Range(errors, "Correlation:MaxAge", correlation.MaxAge, TimeSpan.FromMinutes(10), TimeSpan.FromDays(60));
        SerilogBootstrap.Validate("AgentLog", log.Level, log.RetainedDays, errors);
        GrpcApi.Validate(grpc, errors);
        ValidateQueue(errors, queue);
        return errors;
    }

    private static void ValidateQueue(List<string> errors, QueueOptions queue)
    {
        Range(errors, "Queue:Interval", queue.Interval, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        Range(errors, "Queue:Timeout", queue.Timeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        if (queue.Timeout > queue.Interval)
            errors.Add($"Queue:Timeout = {queue.Timeout} is longer than Queue:Interval = {queue.Interval}: a run must end before the next is due; lower the timeout or raise the interval");
        if (queue.TopDomains is < 0 or > QueueOptions.MaxTopDomains)
            errors.Add($"Queue:TopDomains = {queue.TopDomains} is not valid: use 0 to {QueueOptions.MaxTopDomains} (0 counts every domain as 'other')");
        if (!QueueOptions.TryParseAgeBuckets(queue.AgeBuckets, out _, out var problem))
            errors.Add($"Queue:AgeBuckets = '{queue.AgeBuckets}' is not valid: {problem}; use increasing seconds separated by commas, e.g. {QueueOptions.DefaultAgeBuckets}");
    }

    /// <summary>Reads and checks the Health section; returns the errors, one line each.</summary>
    public static List<string> ValidateHealth(IConfiguration config, out HealthOptions health)
    {
        var errors = new List<string>();
        var h = health = new HealthOptions();
        Bind(() => config.GetSection(HealthOptions.SectionName).Bind(h, Strict), nameof(HealthOptions), errors);
        foreach (var name in health.CheckNames())
        {
            if (!HealthOptions.KnownChecks.Contains(name))
                errors.Add($"Health:Checks has '{name}', which is not a check: use {string.Join(", ", HealthOptions.KnownChecks)}, ';'-separated");
        }

        Range(errors, "Health:Interval", health.Interval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Range(errors, "Health:SlowInterval", health.SlowInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(6));
        Range(errors, "Health:CheckTimeout", health.CheckTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Range(errors, "Health:StartupTimeout", health.StartupTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(30));
        Range(errors, "Health:LoopStallTimeout", health.LoopStallTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        Range(errors, "Health:LogStaleDegraded", health.LogStaleDegraded, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30));
        Range(errors, "Health:LogStaleUnhealthy", health.LogStaleUnhealthy, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30));
        Range(errors, "Health:OutcomeWindow", health.OutcomeWindow, TimeSpan.FromSeconds(10), TimeSpan.FromDays(1));
        if (health.SlowInterval < health.Interval)
            errors.Add($"Health:SlowInterval = {health.SlowInterval} is not valid: use at least Health:Interval ({health.Interval})");
        if (health.LogStaleUnhealthy < health.LogStaleDegraded)
            errors.Add($"Health:LogStaleUnhealthy = {health.LogStaleUnhealthy} is not valid: use at least Health:LogStaleDegraded ({health.LogStaleDegraded})");
        if (health.LogLagDegradedBytes < 0 || health.LogLagUnhealthyBytes < health.LogLagDegradedBytes)
            errors.Add($"Health:LogLagDegradedBytes = {health.LogLagDegradedBytes} and LogLagUnhealthyBytes = {health.LogLagUnhealthyBytes} are not valid: use 0 <= degraded <= unhealthy");
        Ratio(errors, "Health:DeliveryFailureDegraded", health.DeliveryFailureDegraded);
        Ratio(errors, "Health:DeliveryFailureUnhealthy", health.DeliveryFailureUnhealthy);
        if (health.DeliveryFailureUnhealthy < health.DeliveryFailureDegraded)
            errors.Add($"Health:DeliveryFailureUnhealthy = {health.DeliveryFailureUnhealthy.ToString(CultureInfo.InvariantCulture)} is not valid: use at least Health:DeliveryFailureDegraded ({health.DeliveryFailureDegraded.ToString(CultureInfo.InvariantCulture)})");
        Ratio(errors, "Health:DkimSigningDegraded", health.DkimSigningDegraded);
        if (health.DeliveryMinAttempts is < 0 or > 1_000_000)
            errors.Add($"Health:DeliveryMinAttempts = {health.DeliveryMinAttempts} is not valid: use 0 to 1000000");
        if (health.DkimMinMessages is < 0 or > 1_000_000)
            errors.Add($"Health:DkimMinMessages = {health.DkimMinMessages} is not valid: use 0 to 1000000");
        if (health.DiskFreeUnhealthyPercent is < 0 or > 100 || health.DiskFreeDegradedPercent is < 0 or > 100 || health.DiskFreeDegradedPercent < health.DiskFreeUnhealthyPercent)
            errors.Add($"Health:DiskFreeDegradedPercent = {health.DiskFreeDegradedPercent.ToString(CultureInfo.InvariantCulture)} and DiskFreeUnhealthyPercent = {health.DiskFreeUnhealthyPercent.ToString(CultureInfo.InvariantCulture)} are not valid: use 0 to 100, unhealthy <= degraded");
        var checks = health.CheckNames();
        if (checks.Contains("smtp"))
        {
            if (health.SmtpEndpointList().Count == 0)
                errors.Add("Health:SmtpEndpoints is empty: set host:port list, e.g. 127.0.0.1:25, or leave smtp out of Health:Checks");
            foreach (var e in health.SmtpEndpointList().Where(e => !TcpEndpoint.TryParse(e, out _, out _)))
                errors.Add($"Health:SmtpEndpoints has '{e}', which is not valid: use host:port, several separated by ';'");
        }

        if (checks.Contains("milter") && Health.Checks.MilterAddress.SplitList(health.MilterAddress).FirstOrDefault(a => !Health.Checks.MilterAddress.TryParse(a, out _)) is { } badMilter)
            errors.Add($"Health:MilterAddress = '{badMilter}' is not valid: use inet:host:port, unix:/path, local:/path or host:port (e.g. local:/run/opendkim/opendkim.sock), empty for Postfix's smtpd_milters, or leave milter out of Health:Checks");
        if (!string.IsNullOrWhiteSpace(health.ProbeSourceAddress) && !System.Net.IPAddress.TryParse(health.ProbeSourceAddress.Trim(), out _))
            errors.Add($"Health:ProbeSourceAddress = '{health.ProbeSourceAddress}' is not valid: use a loopback address, e.g. 127.0.0.2, or empty to probe from the default source");
        if (checks.Contains("disk") && string.IsNullOrWhiteSpace(health.QueueDirectory))
            errors.Add("Health:QueueDirectory is empty: set it to the Postfix queue_directory, e.g. /var/spool/postfix");
        if (checks.Contains("dns") || checks.Contains("blocklist"))
            health.Dns.Validate(health, errors);
        return errors;
    }

    private static void Ratio(List<string> errors, string key, double value)
    {
        if (double.IsNaN(value) || value is < 0 or > 1)
            errors.Add($"{key} = {value.ToString(CultureInfo.InvariantCulture)} is not valid: use a ratio from 0 to 1, e.g. 0.2");
    }

    private static void Bind(Action bind, string options, List<string> errors) => ConfigChecks.Bind(bind, Hint(options), errors);

    private static string Hint(string options) => options switch
    {
        nameof(TailOptions) => "LogTailing takes Path, StateDirectory, StartAt (End|Beginning) and PollInterval, CheckpointInterval, RotatedFileGrace as hh:mm:ss, LineDigestFile (diagnostics)",
        nameof(HttpOptions) => "Http takes Urls",
        nameof(MemoryOptions) => "Memory takes ReleaseStartupPages (true|false)",
        nameof(GrpcOptions) => "Grpc takes Listen (ADDRESS:PORT), CaFile, CertificateFile, KeyFile, ReadClients, WriteClients (comma-separated CNs), ClientSpkiPins and EventBufferSize",
        nameof(HealthOptions) => "Health takes Checks, intervals and ages as hh:mm:ss, byte counts, ratios 0 to 1, host:port addresses and a Dns section (mailagent help run lists them)",
        nameof(CorrelationOptions) => "Correlation takes MaxMessages (a number) and MaxAge (d.hh:mm:ss)",
        nameof(QueueOptions) => "Queue takes Enabled (true|false), Interval and Timeout (hh:mm:ss), TopDomains (a number) and AgeBuckets (seconds, comma-separated)",
        nameof(PostfixOptions) => "Postfix takes ConfigDirectory (absolute path), PostfixPath, PostconfPath and PostqueuePath",
        nameof(ConfigApplyOptions) => "ConfigApply takes AllowedParameters and AllowDangerous (';'-separated names, '*' wildcards), AuditLogPath and StagingDirectory (absolute paths), VerifyTimeout, LockTimeout and RollbackDegradedFor (hh:mm:ss) and IdempotencyKeysKept (a number)",
        nameof(CertificateOptions) => "Certificates takes CertificateFile, KeyFile, BackupDirectory (absolute paths), Hostname, Endpoints and ImplicitTlsEndpoints (host:port;…), ExpiryDegradedDays, ExpiryUnhealthyDays, VerifyRetries (numbers), VerifyDelay, ProbeTimeout, PollInterval, Debounce, ServedMismatchGrace (hh:mm:ss), Watch (true|false) and ReloadCommands (a list)",
        _ => "AgentLog takes FilePath, Level and RetainedDays",
    };

    // The first existing ancestor of a missing directory that is a file (so the directory can never be created), or null.
    private static string? FirstFileOnPath(string directory)
    {
        for (string? d = Path.GetDirectoryName(Path.GetFullPath(directory)); d != null; d = Path.GetDirectoryName(d))
        {
            if (File.Exists(d))
                return d;
            if (Directory.Exists(d))
                return null;
        }

        return null;
    }
}

/// <summary>Every section of the agent's configuration, bound and checked together.</summary>
internal sealed record AgentSettings(
    TailOptions Tail, HttpOptions Http, CorrelationOptions Correlation, AgentLogOptions Log, GrpcOptions Grpc, QueueOptions Queue,
    HealthOptions Health, PostfixOptions Postfix, ConfigApplyOptions ConfigApply, CertificateOptions Certificates)
{
    /// <summary>Delivery events (section Events); not positional, so the deconstructions above stay as they are.</summary>
    public Events.EventsOptions Events { get; init; } = new();

    /// <summary>Resident memory (section Memory); not positional either.</summary>
    public MemoryOptions Memory { get; init; } = new();
}
