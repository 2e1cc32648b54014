using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using MailAgent.Config;
using MailAgent.Pipeline;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
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
        if (!IPEndPoint.TryParse(grpc.Listen, out var endpoint) || !grpc.Listen.Contains(':', StringComparison.Ordinal) || endpoint.Port is < 0 or > 65535)
            errors.Add($"Grpc:Listen = '{grpc.Listen}' is not valid: use ADDRESS:PORT, e.g. 127.0.0.1:9161 or [::1]:9161 (port 0 picks a free port), or leave it empty to turn the gRPC API off");
        if (GrpcOptions.Names(grpc.ReadClients).Count == 0)
            errors.Add("Grpc:ReadClients is empty: name the client certificate CNs allowed to read (GetStatus, GetQueue, WatchEvents, Health), comma-separated, e.g. control-plane");

        if (RequireFile(errors, "Grpc:CaFile", grpc.CaFile, "the PEM CA bundle that signs client certificates"))
        {
            try
            {
                if (LoadCa(grpc.CaFile).Count == 0)
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
        var journal = journalDirectory == null ? null : new EventJournal(journalDirectory);
        if (journal != null)
            services.AddSingleton(journal);
        services.AddSingleton(new EventRing(grpc.EventBufferSize, time, journal));
        services.AddSingleton<ILineObserver>(sp => new DeliveryEventObserver(
            sp.GetRequiredService<EventRing>(), sp.GetRequiredService<Events.DeliveryEventFactory>(), journal));
        services.TryAddSingleton<IPostfixVersionSource, PostconfVersionSource>();
        services.AddSingleton(sp => new AgentStatusReader(time, startedAt, sp.GetRequiredService<Health.IHealthReportSource>(), sp.GetRequiredService<IPostfixVersionSource>()));
        services.AddSingleton(sp => new ClientCertificatePolicy(
            LoadCa(grpc.CaFile), GrpcOptions.Names(grpc.ReadClients), GrpcOptions.Names(grpc.WriteClients), time,
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
        services.AddGrpc(o => o.Interceptors.Add<ClientCertificateInterceptor>());
        return services;
    }

    /// <summary>
    /// Explicit Kestrel endpoints: the /metrics URLs as configured, and the gRPC endpoint with TLS,
    /// HTTP/2 only, and client certificates checked against Grpc:CaFile alone.
    /// </summary>
    public static void ConfigureListeners(KestrelServerOptions kestrel, HttpOptions http, GrpcOptions grpc)
    {
        foreach (var url in http.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var uri = new Uri(url);
            if (uri.IsLoopback && !IPAddress.TryParse(uri.Host.Trim('[', ']'), out _))
            {
                // Kestrel cannot bind "localhost" to port 0 (two sockets, one port).
                if (uri.Port == 0)
                    kestrel.Listen(IPAddress.Loopback, 0);
                else
                    kestrel.ListenLocalhost(uri.Port);
            }
            else if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip))
                kestrel.Listen(ip, uri.Port);
            else
                kestrel.ListenAnyIP(uri.Port);
        }

        var endpoint = IPEndPoint.Parse(grpc.Listen);
        var policy = kestrel.ApplicationServices.GetRequiredService<ClientCertificatePolicy>();
        var certificate = LoadServerCertificate(grpc);
        kestrel.Listen(endpoint, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.UseHttps(https =>
            {
                https.ServerCertificate = certificate;
                https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                // Allow rather than Require, so that a caller without a certificate reaches the
                // interceptor, which logs, counts and answers UNAUTHENTICATED. No call runs without one.
                https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                https.ClientCertificateValidation = (client, _, _) => policy.ValidateChain(client, "TLS handshake");
            });
        });
    }

    /// <summary>Maps the services, and keeps gRPC off the /metrics listener and everything else off the gRPC one.</summary>
    public static void MapGrpcApi(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            bool grpcPath = context.Request.Path.StartsWithSegments("/" + AgentServiceName, StringComparison.Ordinal)
                || context.Request.Path.StartsWithSegments("/" + HealthServiceName, StringComparison.Ordinal);
            if (grpcPath != context.Request.IsHttps)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await next(context);
        });
        app.MapGrpcService<AgentGrpcService>();
        app.MapGrpcService<HealthServiceImpl>();
    }

    private static X509Certificate2Collection LoadCa(string file)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(file);
        return collection;
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
