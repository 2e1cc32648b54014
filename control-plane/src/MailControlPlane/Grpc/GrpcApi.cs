using System.Security.Cryptography.X509Certificates;
using MailControlPlane.Registry;
using Prometheus;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace MailControlPlane.Grpc;

/// <summary>The listeners: /metrics and /health over plain HTTP, the API over TLS with client certificates.</summary>
internal static class GrpcApi
{
    private const string ServiceName = "mailagent.controlplane.v1.ControlPlaneService";

    public static void ConfigureListeners(KestrelServerOptions kestrel, HttpOptions http, GrpcApiOptions grpc, TlsOptions tls, TimeProvider time)
    {
        Listeners.ListenOnUrls(kestrel, http.Urls);

        if (!grpc.Enabled)
            return;
        var ca = CertificateChains.LoadCa(tls.CaFile);
        var api = kestrel.ApplicationServices.GetRequiredService<ApiAuthorization>();
        var certificate = X509Certificate2.CreateFromPemFile(grpc.CertificateFile, grpc.KeyFile);
        Listeners.ListenGrpc(kestrel, grpc.Listen, certificate, client =>
        {
            var now = time.GetUtcNow();
            if (now < client.NotBefore.ToUniversalTime() || now > client.NotAfter.ToUniversalTime())
                return api.Refuse(GrpcRejectionReason.Expired, client.Subject, "TLS handshake", $"valid {client.NotBefore:u} to {client.NotAfter:u}");
            if (!CertificateChains.ChainsTo(client, ca, now, CertificateChains.ClientAuth, out string problem))
                return api.Refuse(GrpcRejectionReason.Untrusted, client.Subject, "TLS handshake", problem);
            return true;
        });
    }

    /// <summary>
    /// Maps the service, keeps gRPC off the plain listener and everything else off the TLS one, and
    /// authorizes every call on the resolved endpoint (<see cref="RequiresPermissionAttribute"/> on
    /// each method; a method without one is refused).
    /// </summary>
    public static void MapGrpcApi(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            // The TLS listener answers only authorized gRPC calls (GrpcAuthorization refuses the rest, counted).
            bool grpcPath = context.Request.Path.StartsWithSegments("/" + ServiceName, StringComparison.OrdinalIgnoreCase);
            if (grpcPath && !context.Request.IsHttps)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await next(context);
        });
        app.Services.GetRequiredService<ApiAuthorization>().Authorization.Use(app, context => context.Request.IsHttps);
        app.MapGrpcService<ControlPlaneGrpcService>();
    }
}

/// <summary>The API's authorization and its rejections counter, <c>mailagent_cp_api_rejections_total{reason}</c>.</summary>
internal sealed class ApiAuthorization
{
    private readonly Counter _rejections;
    private readonly ILogger _logger;

    public ApiAuthorization(GrpcClientLists lists, CollectorRegistry registry, ILogger<ApiAuthorization> logger)
    {
        _logger = logger;
        _rejections = Prometheus.Metrics.WithCustomRegistry(registry).CreateCounter(
            "mailagent_cp_api_rejections_total", "API callers turned away, by reason.", new CounterConfiguration { LabelNames = ["reason"] });
        foreach (var label in GrpcRejectionReason.All)
            _rejections.WithLabels(label);
        Authorization = new GrpcAuthorization(lists, (reason, subject, remote, detail) => Refuse(reason, subject, remote, detail));
    }

    public GrpcAuthorization Authorization { get; }

    /// <summary>Counts and logs a refusal; false, for the TLS handshake callback to return.</summary>
    public bool Refuse(string reason, string subject, string remote, string detail)
    {
        _rejections.WithLabels(reason).Inc();
        Log.ClientRejected(_logger, reason, subject, remote, detail);
        return false;
    }
}
