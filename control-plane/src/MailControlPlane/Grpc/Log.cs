namespace MailControlPlane.Grpc;

internal static partial class Log
{
    [LoggerMessage(EventId = 17100, Level = LogLevel.Warning, Message = "API caller rejected ({Reason}): subject '{Subject}' from {Remote}: {Detail}")]
    public static partial void ClientRejected(ILogger logger, string reason, string subject, string remote, string detail);
}
