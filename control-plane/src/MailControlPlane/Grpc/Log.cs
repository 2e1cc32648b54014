namespace MailControlPlane.Grpc;

internal static partial class Log
{
    [LoggerMessage(EventId = 11200, Level = LogLevel.Warning, Message = "API client {Subject} turned away: {Problem}")]
    public static partial void ClientRejected(ILogger logger, string subject, string problem);
}
