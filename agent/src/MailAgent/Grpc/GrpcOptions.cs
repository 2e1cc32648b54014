namespace MailAgent.Grpc;

/// <summary>The gRPC API listener (section <c>Grpc</c>): TLS with required client certificates.</summary>
internal sealed class GrpcOptions
{
    public const string SectionName = "Grpc";

    /// <summary>ADDRESS:PORT to listen on (HTTP/2 over TLS), e.g. 127.0.0.1:9161; port 0 picks one; empty disables the API.</summary>
    public string Listen { get; set; } = "";

    /// <summary>PEM bundle of the CA(s) that sign client certificates.</summary>
    public string CaFile { get; set; } = "";

    /// <summary>The agent's server certificate (PEM).</summary>
    public string CertificateFile { get; set; } = "";

    /// <summary>The server certificate's private key (PEM).</summary>
    public string KeyFile { get; set; } = "";

    /// <summary>Comma-separated client certificate CNs allowed GetStatus, GetQueue, WatchEvents and Health.</summary>
    public string ReadClients { get; set; } = "";

    /// <summary>Comma-separated client certificate CNs allowed ApplyConfig and ReloadCertificates.</summary>
    public string WriteClients { get; set; } = "";

    /// <summary>Events kept for WatchEvents clients to resume from.</summary>
    public int EventBufferSize { get; set; } = 10_000;

    public bool Enabled => !string.IsNullOrWhiteSpace(Listen);

    public static IReadOnlySet<string> Names(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
}
