using System.Net;
using MailAgent.Certificates;

namespace MailAgent.Cli;

/// <summary><c>mailagent pki init</c>: the certificates the gRPC listener and the control plane need.</summary>
internal static class PkiCommand
{
    public const string Usage = """
        mailagent pki init --dir DIR [--agent-name NAME] [--client-name NAME] [--days N] [--san NAME ...]
        mailagent pki issue --ca-dir DIR --agent-name NAME [--days N] [--san NAME ...]

        Creates a private CA and two certificates signed by it (ECDSA P-256), as PEM files in DIR:
          ca.crt ca.key           the CA: give ca.crt to the agent (Grpc:CaFile) and the control plane
          agent.crt agent.key     the agent's server certificate (Grpc:CertificateFile, Grpc:KeyFile);
                                  names: localhost, 127.0.0.1, ::1, this host's name, the agent name, --san values
          client.crt client.key   a control-plane client certificate; its CN goes in Grpc:ReadClients/WriteClients
        Keys are written 0600 and never overwritten. Keep ca.key offline once the certificates exist.

        Options:
          --agent-name NAME    the agent certificate's CN [this host's name]
          --client-name NAME   the client certificate's CN [control-plane]
          --days N             validity of the agent and client certificates, 1 to 3650 [825]; the CA gets twice that
          --san NAME           an extra DNS name or IP address for the agent certificate (repeatable)

        pki issue: one more agent's server certificate from the CA in DIR (ca.crt, ca.key from pki init),
        written as DIR/NAME.crt and DIR/NAME.key (names: localhost, 127.0.0.1, ::1, this host's name,
        NAME, --san values). Copy both to the new host with ca.crt; the control plane trusts it as it is.
        """;

    /// <summary><c>pki init</c> with the values of --dir, --agent-name and --client-name (by option name).</summary>
    public static async Task<int> InitAsync(Dictionary<string, string> values, int days, List<string> sans, CliContext context)
    {
        string? dir = values.GetValueOrDefault("--dir");
        string agentName = values.GetValueOrDefault("--agent-name") ?? Dns.GetHostName();
        string clientName = values.GetValueOrDefault("--client-name") ?? "control-plane";
        if (string.IsNullOrWhiteSpace(dir))
            return context.UsageError("mailagent pki init: --dir is required", Usage);
        if (string.IsNullOrWhiteSpace(agentName) || string.IsNullOrWhiteSpace(clientName))
            return context.UsageError("mailagent pki init: --agent-name and --client-name may not be empty", Usage);

        PkiFiles files;
        try
        {
            files = AgentPki.Init(dir, agentName, clientName, days, sans, context.Time);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await context.Error.WriteLineAsync($"mailagent pki init: {e.Message}");
            return 1;
        }

        await context.Out.WriteLineAsync($"CA                  {files.CaCertificate} {files.CaKey}");
        await context.Out.WriteLineAsync($"agent ({agentName})  {files.AgentCertificate} {files.AgentKey}");
        await context.Out.WriteLineAsync($"client ({clientName})  {files.ClientCertificate} {files.ClientKey}");
        await context.Out.WriteLineAsync($"agent settings: Grpc:CaFile={files.CaCertificate} Grpc:CertificateFile={files.AgentCertificate} Grpc:KeyFile={files.AgentKey} Grpc:ReadClients={clientName}");
        await context.Out.FlushAsync();
        return 0;
    }

    /// <summary><c>pki issue</c> with the values of --ca-dir and --agent-name (by option name).</summary>
    public static async Task<int> IssueAsync(Dictionary<string, string> values, int days, List<string> sans, CliContext context)
    {
        string? caDir = values.GetValueOrDefault("--ca-dir");
        string? agentName = values.GetValueOrDefault("--agent-name");
        if (string.IsNullOrWhiteSpace(caDir))
            return context.UsageError("mailagent pki issue: --ca-dir is required", Usage);
        if (string.IsNullOrWhiteSpace(agentName))
            return context.UsageError("mailagent pki issue: --agent-name is required", Usage);

        (string Certificate, string Key) issued;
        try
        {
            issued = AgentPki.Issue(caDir, agentName, days, sans, context.Time);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            await context.Error.WriteLineAsync($"mailagent pki issue: {e.Message}");
            return 1;
        }

        await context.Out.WriteLineAsync($"agent ({agentName})  {issued.Certificate} {issued.Key}");
        await context.Out.WriteLineAsync($"agent settings: Grpc:CaFile={Path.Combine(caDir, "ca.crt")} Grpc:CertificateFile={issued.Certificate} Grpc:KeyFile={issued.Key}");
        await context.Out.FlushAsync();
        return 0;
    }
}
