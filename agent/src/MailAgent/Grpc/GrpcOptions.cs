
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

    /// <summary>
    /// Optional comma-separated SHA-256 hashes (base64) of client certificates' SubjectPublicKeyInfo;
    /// when set, a caller's key must be one of them as well as its CN on a list.
    /// </summary>
    public string ClientSpkiPins { get; set; } = "";

    public GrpcClientLists ClientLists() => new(
        GrpcClientLists.Parse(ReadClients), GrpcClientLists.Parse(WriteClients), GrpcClientLists.Parse(ClientSpkiPins),
        "Grpc:ReadClients", "Grpc:WriteClients", "Grpc:ClientSpkiPins");
}
