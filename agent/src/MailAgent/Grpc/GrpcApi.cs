using System.Security.Cryptography.X509Certificates;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using MailAgent.Pipeline;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Prometheus;

namespace MailAgent.Grpc;

/// <summary>The gRPC API: its own TLS listener with client certificates, the services and the event ring.</summary>
internal static class GrpcApi
{
    private const string AgentServiceName = "mailagent.v1.AgentService";
    private const string HealthServiceName = "grpc.health.v1.Health";

    /// <summary>Checks the files the listener needs; returns errors naming the key.</summary>
    public static void Validate(GrpcOptions grpc, List<string> errors)
    {
        if (grpc.EventBufferSize is < 100 or > 1_000_000)
            errors.Add($"Grpc:EventBufferSize = {grpc.EventBufferSize} is not valid: use 100 to 1000000");
        if (!grpc.Enabled)
            return;
        if (!Listeners.TryParseListen(grpc.Listen, out _))
            errors.Add($"Grpc:Listen = '{grpc.Listen}' is not valid: use ADDRESS:PORT, e.g. 127.0.0.1:9161 or [::1]:9161 (port 0 picks a free port), or leave it empty to turn the gRPC API off");
        if (GrpcClientLists.Parse(grpc.ReadClients).Count == 0)
            errors.Add("Grpc:ReadClients is empty: name the client certificate CNs allowed to read (GetStatus, GetQueue, WatchEvents, Health), comma-separated, e.g. control-plane");

        if (RequireFile(errors, "Grpc:CaFile", grpc.CaFile, "the PEM CA bundle that signs client certificates"))
        {
            try
            {
                if (CertificateChains.LoadCa(grpc.CaFile).Count == 0)
                    errors.Add($"Grpc:CaFile = '{grpc.CaFile}' holds no certificate: use a PEM file with the CA certificate(s)");
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException)
            {
                errors.Add($"Grpc:CaFile = '{grpc.CaFile}' cannot be read as PEM certificates: {e.Message}");
            }
        }

        if (RequireFile(errors, "Grpc:CertificateFile", grpc.CertificateFile, "the agent's PEM server certificate")
            & RequireFile(errors, "Grpc:KeyFile", grpc.KeyFile, "the server certificate's PEM private key"))
        {
            try
            {
                using var certificate = LoadServerCertificate(grpc);
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or ArgumentException)
            {
                errors.Add($"Grpc:CertificateFile = '{grpc.CertificateFile}' and Grpc:KeyFile = '{grpc.KeyFile}' are not a matching PEM certificate and key: {e.Message}");
            }
        }
    }

    public static IServiceCollection AddGrpcApi(this IServiceCollection services, GrpcOptions grpc, TimeProvider time, string? journalDirectory = null)
    {
        var startedAt = time.GetUtcNow();
        services.TryAddSingleton(time);
        var journal = journalDirectory == null ? null : new EventJournal(journalDirectory);
        if (journal != null)
            services.AddSingleton(journal);
        services.AddSingleton(new EventRing(grpc.EventBufferSize, time, journal));
        services.AddSingleton<ILineObserver>(sp => new DeliveryEventObserver(
            sp.GetRequiredService<EventRing>(), sp.GetRequiredService<Events.DeliveryEventFactory>(), journal));
        services.TryAddSingleton<IPostfixVersionSource, PostconfVersionSource>();
        services.AddSingleton(sp => new AgentStatusReader(time, startedAt, sp.GetRequiredService<Health.IHealthReportSource>(), sp.GetRequiredService<IPostfixVersionSource>()));
        services.AddSingleton(sp => new ClientCertificatePolicy(CertificateChains.LoadCa(grpc.CaFile), grpc.ClientLists(), time,
            sp.GetRequiredService<CollectorRegistry>(), sp.GetRequiredService<ILogger<ClientCertificatePolicy>>()));
        services.AddSingleton(sp =>
        {
            // The API itself serves; "" and one service per check follow the checks (GrpcHealthPublisher).
            var health = new HealthServiceImpl();
            health.SetStatus(AgentServiceName, HealthCheckResponse.Types.ServingStatus.Serving);
            return health;
        });
        services.AddHostedService<GrpcHealthPublisher>();
        services.AddHostedService<HealthEventPublisher>();
        services.AddGrpc();
        return services;
    }

    /// <summary>
    /// Explicit Kestrel endpoints: the /metrics URLs as configured, and the gRPC endpoint with TLS,
    /// HTTP/2 only, and client certificates checked against Grpc:CaFile alone.
    /// </summary>
    public static void ConfigureListeners(KestrelServerOptions kestrel, string httpUrls, GrpcOptions grpc)
    {
        Listeners.ListenOnUrls(kestrel, httpUrls);

        var policy = kestrel.ApplicationServices.GetRequiredService<ClientCertificatePolicy>();
        Listeners.ListenGrpc(kestrel, grpc.Listen, LoadServerCertificate(grpc), client => policy.ValidateChain(client, "TLS handshake"));
    }

    /// <summary>
    /// Maps the services, keeps gRPC off the /metrics listener and everything else off the gRPC
    /// one, and authorizes every call on the resolved endpoint: each method declares its
    /// permission (<see cref="RequiresPermissionAttribute"/>), and a method without one is refused.
    /// </summary>
    public static void MapGrpcApi(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            // The TLS listener answers only authorized gRPC calls (GrpcAuthorization refuses the rest, counted).
            bool grpcPath = context.Request.Path.StartsWithSegments("/" + AgentServiceName, StringComparison.OrdinalIgnoreCase)
                || context.Request.Path.StartsWithSegments("/" + HealthServiceName, StringComparison.OrdinalIgnoreCase);
            if (grpcPath && !context.Request.IsHttps)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await next(context);
        });
        app.Services.GetRequiredService<ClientCertificatePolicy>().Authorization.Use(app, context => context.Request.IsHttps);
        app.MapGrpcService<AgentGrpcService>();
        // Grpc.HealthCheck's class cannot carry the attribute: every method of grpc.health.v1 reads.
        app.MapGrpcService<HealthServiceImpl>().WithMetadata(new RequiresPermissionAttribute(GrpcPermission.Read));
    }

    private static X509Certificate2 LoadServerCertificate(GrpcOptions grpc) =>
        X509Certificate2.CreateFromPemFile(grpc.CertificateFile, grpc.KeyFile);

    private static bool RequireFile(List<string> errors, string key, string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            errors.Add($"{key} is empty: the gRPC API (Grpc:Listen is set) needs {what}");
            return false;
        }

        if (!File.Exists(path))
        {
            errors.Add($"{key} = '{path}': no such file; it should be {what} ('mailagent pki init' makes one)");
            return false;
        }

        return true;
    }
}
