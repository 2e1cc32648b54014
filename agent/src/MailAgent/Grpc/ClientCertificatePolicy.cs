using System.Security.Cryptography.X509Certificates;
using Prometheus;

namespace MailAgent.Grpc;

/// <summary>Why a gRPC caller was turned away; the values of the <c>reason</c> label.</summary>
internal enum RejectionReason
{
    NoCertificate,
    Untrusted,
    Expired,
    NotAllowed,
}

/// <summary>Which allow-list a method needs.</summary>
internal enum RpcGroup
{
    Read,
    Write,
}

/// <summary>
/// Client certificate checks for the gRPC listener: chain to the configured CA only (not the
/// system store), within validity, then the subject CN on the allow-list of the method's group.
/// </summary>
internal sealed class ClientCertificatePolicy
{
    private static readonly string[] ReasonLabels = ["no_certificate", "untrusted", "expired", "not_allowed"];
    private readonly X509Certificate2Collection _trusted;
    private readonly IReadOnlySet<string> _readClients;
    private readonly IReadOnlySet<string> _writeClients;
    private readonly TimeProvider _time;
    private readonly Counter _rejections;
    private readonly ILogger _logger;

    public ClientCertificatePolicy(X509Certificate2Collection trusted, IReadOnlySet<string> readClients, IReadOnlySet<string> writeClients,
        TimeProvider time, CollectorRegistry registry, ILogger<ClientCertificatePolicy> logger)
    {
        _trusted = trusted;
        _readClients = readClients;
        _writeClients = writeClients;
        _time = time;
        _logger = logger;
        _rejections = Prometheus.Metrics.WithCustomRegistry(registry).CreateCounter(
            "mailagent_grpc_rejections_total", "gRPC callers turned away, by reason.", new CounterConfiguration { LabelNames = ["reason"] });
        foreach (var label in ReasonLabels)
            _rejections.WithLabels(label);
    }

    public static RpcGroup GroupOf(string method) =>
        method is "/mailagent.v1.AgentService/ApplyConfig" or "/mailagent.v1.AgentService/ReloadCertificates" ? RpcGroup.Write : RpcGroup.Read;

    /// <summary>The TLS handshake check; a false return ends the connection.</summary>
    public bool ValidateChain(X509Certificate2 certificate, string remote)
    {
        var now = _time.GetUtcNow();
        if (now < certificate.NotBefore.ToUniversalTime() || now > certificate.NotAfter.ToUniversalTime())
            return Reject(RejectionReason.Expired, certificate.Subject, remote, $"valid {certificate.NotBefore:u} to {certificate.NotAfter:u}");

        if (!CertificateChains.ChainsTo(certificate, _trusted, now, CertificateChains.ClientAuth, out var status))
            return Reject(RejectionReason.Untrusted, certificate.Subject, remote, status);

        return true;
    }

    /// <summary>The per-call check: a certificate (already chain-checked) whose CN may call <paramref name="method"/>.</summary>
    public RejectionReason? Authorize(X509Certificate2? certificate, string method, string remote)
    {
        if (certificate == null)
        {
            Reject(RejectionReason.NoCertificate, "", remote, method);
            return RejectionReason.NoCertificate;
        }

        string cn = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        var allowed = GroupOf(method) == RpcGroup.Write ? _writeClients : _readClients;
        if (!allowed.Contains(cn))
        {
            Reject(RejectionReason.NotAllowed, cn, remote, method);
            return RejectionReason.NotAllowed;
        }

        return null;
    }

    private bool Reject(RejectionReason reason, string subject, string remote, string detail)
    {
        _rejections.WithLabels(ReasonLabels[(int)reason]).Inc();
        Log.Rejected(_logger, ReasonLabels[(int)reason], subject, remote, detail);
        return false;
    }
}
