using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;

namespace MailAgent.Common;

/// <summary>What a gRPC method needs from its caller: to be on the read list or on the write list.</summary>
internal enum GrpcPermission
{
    Read,
    Write,
}

/// <summary>
/// Declares the permission a gRPC method needs. Grpc.AspNetCore copies a service method's
/// attributes into its endpoint's metadata, where <see cref="GrpcAuthorization"/> reads it; a
/// method without one cannot be called by anybody.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
internal sealed class RequiresPermissionAttribute(GrpcPermission permission) : Attribute
{
    public GrpcPermission Permission { get; } = permission;
}

/// <summary>The values of the rejections counter's <c>reason</c> label, the same in both daemons.</summary>
internal static class GrpcRejectionReason
{
    public const string NoCertificate = "no_certificate";
    public const string Untrusted = "untrusted";
    public const string Expired = "expired";
    public const string NotAllowed = "not_allowed";
    public const string NoCommonName = "no_common_name";
    public const string SeveralCommonNames = "several_common_names";
    public const string PinMismatch = "pin_mismatch";
    public const string NonCanonicalPath = "non_canonical_path";
    public const string UndeclaredPermission = "undeclared_permission";
    public const string UnknownMethod = "unknown_method";

    /// <summary>Every reason, so a counter can show them all at zero from the start.</summary>
    public static readonly IReadOnlyList<string> All =
        [NoCertificate, Untrusted, Expired, NotAllowed, NoCommonName, SeveralCommonNames, PinMismatch, NonCanonicalPath, UndeclaredPermission, UnknownMethod];
}

/// <summary>Receives each refusal (reason label, certificate subject, remote address, detail) to count and log it.</summary>
internal delegate void GrpcRejectionSink(string reason, string subject, string remote, string detail);

/// <summary>Who may call what: the read and write lists of CNs, optional SPKI pins, and the names of their settings for messages.</summary>
internal sealed record GrpcClientLists(
    IReadOnlySet<string> ReadClients, IReadOnlySet<string> WriteClients, IReadOnlySet<string> SpkiPins,
    string ReadKey, string WriteKey, string PinKey)
{
    /// <summary>A comma-separated list as a set; names are compared exactly (case matters).</summary>
    public static IReadOnlySet<string> Parse(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
}

/// <summary>
/// Deny-by-default authorization for a gRPC listener, shared by the agent and the control plane
/// (linked source). Two middlewares: before routing, the raw request target must be exactly
/// <c>/package.Service/Method</c> (no trailing or double slash, no percent-encoding, no query);
/// after routing, the resolved endpoint must be a gRPC method whose exact name is the path, that
/// declares a <see cref="RequiresPermissionAttribute"/>, and the caller's single subject CN (and
/// SPKI pin, when pins are configured) must be on the list of that permission.
/// </summary>
/// <remarks>
/// Identity is the one CN of the subject. A subject with no CN, with two CNs, or with a
/// multi-valued RDN is refused: which of two names counts is a guess we do not make.
/// </remarks>
internal sealed class GrpcAuthorization(GrpcClientLists lists, GrpcRejectionSink rejected)
{
    private const string CommonNameOid = "2.5.4.3";

    /// <summary>The lists in force (tests and status output read them).</summary>
    public GrpcClientLists Lists => lists;

    /// <summary>
    /// Adds both middlewares around an explicit <c>UseRouting</c>. Every request on the API
    /// listener (<paramref name="isApi"/>) must be a canonical call of a gRPC method that passes;
    /// a gRPC method reached on another listener is refused too.
    /// </summary>
    public void Use(WebApplication app, Func<HttpContext, bool> isApi)
    {
        app.Use((context, next) => isApi(context) && !IsCanonical(context) ? RefuseAsync(context, GrpcRejectionReason.NonCanonicalPath, StatusCode.PermissionDenied,
            $"the request path '{RawTarget(context)}' is not canonical: call /package.Service/Method exactly (no trailing or double slash, no percent-encoding)") : next(context));
        app.UseRouting();
        app.Use((context, next) =>
        {
            bool grpcEndpoint = context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() != null;
            if (!isApi(context))
                return grpcEndpoint ? RefuseAsync(context, GrpcRejectionReason.UnknownMethod, StatusCode.Unimplemented, "the gRPC API is served on its TLS listener only") : next(context);
            return AuthorizeAsync(context, next);
        });
    }

    /// <summary>The reason a certificate gives no identity, or null with its single CN.</summary>
    public static string? Identify(X509Certificate2 certificate, out string commonName)
    {
        commonName = "";
        int count = 0;
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.HasMultipleElements)
                return GrpcRejectionReason.SeveralCommonNames;
            if (rdn.GetSingleElementType().Value != CommonNameOid)
                continue;
            count++;
            commonName = rdn.GetSingleElementValue() ?? "";
        }

        if (count > 1)
            return GrpcRejectionReason.SeveralCommonNames;
        return count == 0 || commonName.Length == 0 ? GrpcRejectionReason.NoCommonName : null;
    }

    /// <summary>SHA-256 of the certificate's SubjectPublicKeyInfo, base64 (the form <c>openssl … | base64</c> prints, as in HPKP).</summary>
    public static string SpkiPin(X509Certificate2 certificate) =>
        Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));

    private static string RawTarget(HttpContext context) =>
        context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "";

    private static bool IsCanonical(HttpContext context)
    {
        // "/" name "/" name, from letters, digits, '_' and '.' (service) only: what a generated client sends.
        string target = RawTarget(context);
        if (target.Length < 4 || target[0] != '/')
            return false;
        int slash = target.IndexOf('/', 1);
        if (slash <= 1 || slash == target.Length - 1 || target.IndexOf('/', slash + 1) >= 0)
            return false;
        for (int i = 1; i < target.Length; i++)
        {
            char c = target[i];
            bool ok = char.IsAsciiLetterOrDigit(c) || c == '_' || (c == '.' && i < slash) || i == slash;
            if (!ok)
                return false;
        }

        return true;
    }

    private Task AuthorizeAsync(HttpContext context, RequestDelegate next)
    {
        var endpoint = context.GetEndpoint();
        var method = endpoint?.Metadata.GetMetadata<GrpcMethodMetadata>();
        if (method == null)
            return RefuseAsync(context, GrpcRejectionReason.UnknownMethod, StatusCode.Unimplemented, $"no gRPC method {context.Request.Path} here");
        // Routing ignores case; the method name does not.
        if (!string.Equals(RawTarget(context), method.Method.FullName, StringComparison.Ordinal))
            return RefuseAsync(context, GrpcRejectionReason.NonCanonicalPath, StatusCode.PermissionDenied,
                $"the request path '{RawTarget(context)}' is not canonical: call {method.Method.FullName} exactly");
        var declared = endpoint!.Metadata.GetMetadata<RequiresPermissionAttribute>();
        if (declared == null)
            return RefuseAsync(context, GrpcRejectionReason.UndeclaredPermission, StatusCode.PermissionDenied,
                $"{method.Method.FullName} declares no permission, so nobody may call it");

        var certificate = context.Connection.ClientCertificate;
        if (certificate == null)
            return RefuseAsync(context, GrpcRejectionReason.NoCertificate, StatusCode.Unauthenticated,
                "a client certificate signed by the CA this server trusts is required");
        string? problem = Identify(certificate, out string cn);
        if (problem != null)
            return RefuseAsync(context, problem, StatusCode.PermissionDenied,
                $"the client certificate's subject '{certificate.Subject}' must hold exactly one CN (it is the caller's identity)");
        if (lists.SpkiPins.Count > 0 && !lists.SpkiPins.Contains(SpkiPin(certificate)))
            return RefuseAsync(context, GrpcRejectionReason.PinMismatch, StatusCode.PermissionDenied,
                $"the client certificate's public key is not pinned: see {lists.PinKey}");
        var (allowed, key) = declared.Permission == GrpcPermission.Write ? (lists.WriteClients, lists.WriteKey) : (lists.ReadClients, lists.ReadKey);
        if (!allowed.Contains(cn))
            return RefuseAsync(context, GrpcRejectionReason.NotAllowed, StatusCode.PermissionDenied,
                $"CN '{cn}' may not call {method.Method.FullName}, which needs {declared.Permission.ToString().ToLowerInvariant()} permission: see {key}");
        return next(context);
    }

    private Task RefuseAsync(HttpContext context, string reason, StatusCode code, string message)
    {
        var certificate = context.Connection.ClientCertificate;
        rejected(reason, certificate?.Subject ?? "", context.Connection.RemoteIpAddress + ":" + context.Connection.RemotePort.ToString(CultureInfo.InvariantCulture), message);
        // A trailers-only gRPC answer: the status travels in the headers, as Grpc.AspNetCore does for early errors.
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)code).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["grpc-message"] = PercentEncode(message);
        return Task.CompletedTask;
    }

    // grpc-message is percent-encoded UTF-8 outside printable ASCII (and '%' itself).
    private static string PercentEncode(string message)
    {
        var sb = new StringBuilder(message.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
                sb.Append((char)b);
            else
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }
}
