using Grpc.Core;
using Grpc.Core.Interceptors;

namespace MailAgent.Grpc;

/// <summary>Every gRPC call passes the allow-list of its method's group before it runs.</summary>
internal sealed class ClientCertificateInterceptor(ClientCertificatePolicy policy) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authorize(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Authorize(ServerCallContext context)
    {
        var http = context.GetHttpContext();
        var reason = policy.Authorize(http.Connection.ClientCertificate, context.Method, context.Peer);
        if (reason == RejectionReason.NoCertificate)
            throw new RpcException(new Status(StatusCode.Unauthenticated, "a client certificate signed by the agent's CA (Grpc:CaFile) is required"));
        if (reason == RejectionReason.NotAllowed)
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"this client certificate's CN is not allowed to call {context.Method}: see Grpc:ReadClients and Grpc:WriteClients"));
    }
}
