namespace MailAgent.ConfigApply;

/// <summary>What ApplyConfig may change and where it keeps its staging copies and audit log (section <c>ConfigApply</c>).</summary>
internal sealed class ConfigApplyOptions
{
    public const string SectionName = "ConfigApply";

    /// <summary>
    /// The operator-tunable main.cf parameters: rate and concurrency limits, TLS policy, restrictions,
    /// milters, relay and transport, size limits. Deliberately absent: directories, owners, paths of
    /// programs, <c>inet_interfaces</c>/<c>inet_protocols</c> (a typo takes the host off the network),
    /// <c>mynetworks</c> (an open relay is one value away); add them explicitly when wanted.
    /// </summary>
    public const string DefaultAllowedParameters =
        "*_destination_rate_delay;*_destination_concurrency_limit;*_destination_recipient_limit;*_destination_concurrency_failed_cohort_limit;"
        + "default_process_limit;smtp_tls_security_level;smtpd_tls_security_level;smtp_tls_policy_maps;smtp_tls_mandatory_protocols;smtp_tls_protocols;"
        + "smtpd_tls_mandatory_protocols;smtpd_tls_protocols;smtp_tls_mandatory_ciphers;smtpd_tls_mandatory_ciphers;"
        + "smtpd_*_restrictions;smtpd_milters;non_smtpd_milters;milter_default_action;"
        + "relayhost;transport_maps;sender_dependent_relayhost_maps;sender_dependent_default_transport_maps;default_transport;"
        + "message_size_limit;mailbox_size_limit;smtpd_client_connection_rate_limit;smtpd_client_message_rate_limit;smtpd_client_connection_count_limit;"
        + "smtpd_client_recipient_rate_limit;anvil_rate_time_unit;smtp_connect_timeout;smtp_helo_timeout;"
        + "maximal_queue_lifetime;bounce_queue_lifetime;minimal_backoff_time;maximal_backoff_time;queue_run_delay;"
        + "qmgr_message_active_limit;header_checks;body_checks;smtpd_recipient_limit";

    /// <summary>Parameter names ApplyConfig may set or remove, ';'-separated; a trailing or leading '*' matches any text.</summary>
    public string AllowedParameters { get; set; } = DefaultAllowedParameters;

    /// <summary>
    /// Allowed parameters that may also be changed dangerously (<see cref="DangerousChanges"/>: redirect or
    /// copy mail, send mail data elsewhere, downgrade TLS, name a file outside the config directory),
    /// same syntax; empty by default, so a stolen write certificate cannot take over mail flow.
    /// </summary>
    public string AllowDangerous { get; set; } = "";

    /// <summary>One JSON line per request: who, what, result.</summary>
    public string AuditLogPath { get; set; } = "/var/log/mailagent/config-audit.log";

    /// <summary>Where snapshots and staged copies live; empty for <c>LogTailing:StateDirectory</c>/config-apply.</summary>
    public string StagingDirectory { get; set; } = "";

    /// <summary>After the reload, Postfix must run, log no fatal/panic and answer on the SMTP endpoints within this time.</summary>
    public TimeSpan VerifyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A second request waits this long for the one in progress, then is rejected.</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Replies remembered by idempotency key (oldest forgotten first).</summary>
    public int IdempotencyKeysKept { get; set; } = 1000;

    /// <summary>The health check <c>config</c> stays degraded this long after a rollback.</summary>
    public TimeSpan RollbackDegradedFor { get; set; } = TimeSpan.FromMinutes(30);

    public IReadOnlyList<string> AllowedPatterns() =>
        AllowedParameters.Split([';', ',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public IReadOnlyList<string> DangerousPatterns() =>
        AllowDangerous.Split([';', ',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The staging directory as configured, or the default under the agent's state directory.</summary>
    public string EffectiveStagingDirectory(string stateDirectory) =>
        string.IsNullOrWhiteSpace(StagingDirectory) ? Path.Combine(stateDirectory, "config-apply") : StagingDirectory;

    /// <summary>Checks the section; each error names the key, the value and what is valid.</summary>
    public static void Validate(ConfigApplyOptions options, List<string> errors)
    {
        var patterns = options.AllowedPatterns();
        if (patterns.Count == 0)
            errors.Add("ConfigApply:AllowedParameters is empty: name the main.cf parameters ApplyConfig may change, ';'-separated, e.g. smtpd_milters;*_destination_rate_delay");
        foreach (var p in patterns)
        {
            if (!AllowList.IsValidPattern(p))
                errors.Add($"ConfigApply:AllowedParameters has '{p}', which is not valid: use a parameter name (letters, digits, '_') with at most a leading or trailing '*', e.g. smtpd_*_restrictions or *_destination_rate_delay");
        }

        foreach (var p in options.DangerousPatterns())
        {
            if (!AllowList.IsValidPattern(p))
                errors.Add($"ConfigApply:AllowDangerous has '{p}', which is not valid: use a parameter name (letters, digits, '_') with at most a leading or trailing '*', e.g. relayhost or *_milters");
        }

        if (string.IsNullOrWhiteSpace(options.AuditLogPath) || !Path.IsPathFullyQualified(options.AuditLogPath))
            errors.Add($"ConfigApply:AuditLogPath = '{options.AuditLogPath}' is not valid: use an absolute file path, e.g. /var/log/mailagent/config-audit.log");
        if (!string.IsNullOrWhiteSpace(options.StagingDirectory) && !Path.IsPathFullyQualified(options.StagingDirectory))
            errors.Add($"ConfigApply:StagingDirectory = '{options.StagingDirectory}' is not valid: use an absolute directory path, or leave it empty for LogTailing:StateDirectory/config-apply");
        if (options.VerifyTimeout < TimeSpan.FromSeconds(1) || options.VerifyTimeout > TimeSpan.FromMinutes(10))
            errors.Add($"ConfigApply:VerifyTimeout = {options.VerifyTimeout} is not valid: use 00:00:01 to 00:10:00");
        if (options.LockTimeout < TimeSpan.Zero || options.LockTimeout > TimeSpan.FromHours(1))
            errors.Add($"ConfigApply:LockTimeout = {options.LockTimeout} is not valid: use 00:00:00 to 01:00:00");
        if (options.IdempotencyKeysKept is < 0 or > 1_000_000)
            errors.Add($"ConfigApply:IdempotencyKeysKept = {options.IdempotencyKeysKept} is not valid: use 0 to 1000000");
        if (options.RollbackDegradedFor < TimeSpan.Zero || options.RollbackDegradedFor > TimeSpan.FromDays(7))
            errors.Add($"ConfigApply:RollbackDegradedFor = {options.RollbackDegradedFor} is not valid: use 00:00:00 to 7.00:00:00");
    }
}
