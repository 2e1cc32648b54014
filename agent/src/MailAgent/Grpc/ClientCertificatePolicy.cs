using System.Security.Cryptography.X509Certificates;
using Prometheus;

namespace MailAgent.Grpc;

/// <summary>
/// Client certificate checks for the gRPC listener. The TLS handshake checks the chain (to the
/// configured CA only, not the system store) and the validity dates; each call is then checked
/// by the shared <see cref="GrpcAuthorization"/> (one CN, the method's declared permission).
/// Every refusal, from either, is counted in <c>mailagent_grpc_rejections_total{reason}</c>.
/// </summary>
internal sealed class ClientCertificatePolicy
{
    private readonly X509Certificate2Collection _trusted;
    private readonly TimeProvider _time;
    private readonly Counter _rejections;
    private readonly ILogger _logger;

    public ClientCertificatePolicy(X509Certificate2Collection trusted, GrpcClientLists lists, TimeProvider time, CollectorRegistry registry, ILogger<ClientCertificatePolicy> logger)
    {
        _trusted = trusted;
        _time = time;
        _logger = logger;
        _rejections = Prometheus.Metrics.WithCustomRegistry(registry).CreateCounter(
            "mailagent_grpc_rejections_total", "gRPC callers turned away, by reason.", new CounterConfiguration { LabelNames = ["reason"] });
        foreach (var label in GrpcRejectionReason.All)
            _rejections.WithLabels(label);
        Authorization = new GrpcAuthorization(lists, Reject);
    }

    /// <summary>The per-call checks (middleware around routing).</summary>
    public GrpcAuthorization Authorization { get; }

    /// <summary>The TLS handshake check; a false return ends the connection.</summary>
    public bool ValidateChain(X509Certificate2 certificate, string remote)
    {
        var now = _time.GetUtcNow();
        if (now < certificate.NotBefore.ToUniversalTime() || now > certificate.NotAfter.ToUniversalTime())
            return Refuse(GrpcRejectionReason.Expired, certificate.Subject, remote, $"valid {certificate.NotBefore:u} to {certificate.NotAfter:u}");

        if (!CertificateChains.ChainsTo(certificate, _trusted, now, CertificateChains.ClientAuth, out var status))
            return Refuse(GrpcRejectionReason.Untrusted, certificate.Subject, remote, status);

        return true;
    }

    private bool Refuse(string reason, string subject, string remote, string detail)
    {
        Reject(reason, subject, remote, detail);
        return false;
    }

    private void Reject(string reason, string subject, string remote, string detail)
    {
        _rejections.WithLabels(reason).Inc();
        Log.Rejected(_logger, reason, subject, remote, detail);
    }
}
