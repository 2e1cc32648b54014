namespace MailControlPlane.Probing;

internal static partial class Log
{
    [LoggerMessage(EventId = 17700, Level = LogLevel.Information, Message = "Probing {Provider} at {Host}:{Port} every {Interval}")]
    public static partial void ProbeTarget(ILogger logger, string provider, string host, int port, TimeSpan interval);

    [LoggerMessage(EventId = 17701, Level = LogLevel.Warning, Message = "SMTP probe of {Provider} fails: {Reason}")]
    public static partial void ProbeFailing(ILogger logger, string provider, string reason);

    [LoggerMessage(EventId = 17702, Level = LogLevel.Information, Message = "SMTP probe of {Provider} passes again: {Reason} ({ElapsedMs} ms)")]
    public static partial void ProbePassing(ILogger logger, string provider, string reason, long elapsedMs);

    [LoggerMessage(EventId = 17703, Level = LogLevel.Warning, Message = "No SMTP endpoint to probe for {Provider}: set Agents:N:ProbeHost/ProbePort or config.smtp_host/smtp_port in its routing row")]
    public static partial void NoProbeTarget(ILogger logger, string provider);
}
