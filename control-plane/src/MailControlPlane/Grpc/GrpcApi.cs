using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using MailControlPlane.Registry;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace MailControlPlane.Grpc;

/// <summary>The listeners: /metrics and /health over plain HTTP, the API over TLS with client certificates.</summary>
internal static class GrpcApi
{
    private const string ServiceName = "mailagent.controlplane.v1.ControlPlaneService";

    public static void ConfigureListeners(KestrelServerOptions kestrel, HttpOptions http, GrpcApiOptions grpc, TlsOptions tls, TimeProvider time, ILogger logger)
    {
        Listeners.ListenOnUrls(kestrel, http.Urls);

        if (!grpc.Enabled)
            return;
        var ca = CertificateChains.LoadCa(tls.CaFile);
        var clients = grpc.ClientNames();
        var certificate = X509Certificate2.CreateFromPemFile(grpc.CertificateFile, grpc.KeyFile);
        kestrel.Listen(IPEndPoint.Parse(grpc.Listen), listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.UseHttps(https =>
            {
                https.ServerCertificate = certificate;
                https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                https.ClientCertificateValidation = (client, _, _) =>
                {
                    if (!CertificateChains.ChainsTo(client, ca, time.GetUtcNow(), CertificateChains.ClientAuth, out string problem))
                    {
                        Log.ClientRejected(logger, client.Subject, problem);
                        return false;
                    }

                    string cn = client.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
                    if (!clients.Contains(cn))
                    {
                        Log.ClientRejected(logger, client.Subject, "CN not on Grpc:Clients");
                        return false;
                    }

                    return true;
                };
            });
        });
    }

    /// <summary>Maps the service, and keeps gRPC off the plain listener and everything else off the TLS one.</summary>
    public static void MapGrpcApi(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            bool grpcPath = context.Request.Path.StartsWithSegments("/" + ServiceName, StringComparison.Ordinal);
            if (grpcPath != context.Request.IsHttps)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await next(context);
        });
        app.MapGrpcService<ControlPlaneGrpcService>();
    }
}
