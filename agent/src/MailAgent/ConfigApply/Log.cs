namespace MailAgent.ConfigApply;

/// <summary>The config applier's log messages (event IDs 6100–6199).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 6200, Level = LogLevel.Information, Message = "Config apply by {Caller}: {Result} ({Changes} change(s)) {Reason}")]
    public static partial void Applied(ILogger logger, string caller, string result, int changes, string reason);

    [LoggerMessage(EventId = 6201, Level = LogLevel.Warning, Message = "Config apply by {Caller} rolled back: {Reason}")]
    public static partial void RolledBack(ILogger logger, string caller, string reason);

    [LoggerMessage(EventId = 6202, Level = LogLevel.Error, Message = "Config rollback failed: {Reason}; main.cf may differ from the snapshot in {Snapshot}")]
    public static partial void RollbackFailed(ILogger logger, string reason, string snapshot);

    [LoggerMessage(EventId = 6203, Level = LogLevel.Error, Message = "Cannot write the config audit log {Path}: {Reason}")]
    public static partial void AuditFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 7410, Level = LogLevel.Warning, Message = "Cannot save the config-apply state {Path}: {Reason}; idempotency keys are kept in memory only")]
    public static partial void StateNotSaved(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 7310, Level = LogLevel.Information, Message = "Config apply by {Caller} in another process (audit log): {Result}: {Reason}")]
    public static partial void ExternalApply(ILogger logger, string caller, string result, string reason);

    [LoggerMessage(EventId = 7311, Level = LogLevel.Information, Message = "Certificate deployment by {Caller} in another process (audit log): {Result}: {Reason}")]
    public static partial void ExternalCertificateReload(ILogger logger, string caller, string result, string reason);

    [LoggerMessage(EventId = 7312, Level = LogLevel.Warning, Message = "Cannot follow the audit log {Path}: {Reason}; CLI applies are not counted until it works again")]
    public static partial void AuditFollowFailed(ILogger logger, string path, string reason);
}
