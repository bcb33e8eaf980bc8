package io.freqfusion.serve.grpc;

import com.google.protobuf.MessageLite;
import io.freqfusion.serve.InferenceException;
import io.freqfusion.serve.admission.MemoryBudget;
import io.freqfusion.serve.security.TokenAuth;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.Set;

/**
 * Every gRPC call passes here first: request id ({@code x-request-id} metadata accepted or generated, returned in the
 * response headers, or trailers when no headers were sent), bearer-token authentication on the {@code authorization}
 * metadata (UNAUTHENTICATED; ServerLive and ServerReady stay open for probes), and for ModelInfer the admission budget:
 * the received message's size is reserved before the call reaches the service (RESOURCE_EXHAUSTED at once when it does
 * not fit), and everything the call reserved is released when it ends.
 */
@ApplicationScoped
@GlobalInterceptor
public class GrpcGate implements ServerInterceptor {
    private static final Logger LOG = Logger.getLogger(GrpcGate.class);
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> REQUEST_ID = Metadata.Key.of("x-request-id", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> RETRY_AFTER = Metadata.Key.of("retry-after", Metadata.ASCII_STRING_MARSHALLER);
    static final Context.Key<String> REQUEST_ID_CTX = Context.key("freqfusion-request-id");
    static final Context.Key<MemoryBudget.Ticket> TICKET_CTX = Context.key("freqfusion-ticket");
    private static final Set<String> OPEN = Set.of("ServerLive", "ServerReady");

    @Inject
    TokenAuth auth;
    @Inject
    MemoryBudget budget;

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        String id = TokenAuth.requestId(headers.get(REQUEST_ID));
        String method = call.getMethodDescriptor().getBareMethodName();
        ServerCall<Q, A> tagged = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            private volatile boolean headersSent;

            @Override
            public void sendHeaders(Metadata h) {
                h.put(REQUEST_ID, id);
                headersSent = true;
                super.sendHeaders(h);
            }

            @Override
            public void close(Status status, Metadata trailers) {
                if (!headersSent) trailers.put(REQUEST_ID, id);
                super.close(status, trailers);
            }
        };
        if (auth.enabled() && !OPEN.contains(method) && !auth.accepts(headers.get(AUTHORIZATION))) {
            LOG.debugf("gRPC %s refused: unauthenticated (request %s)", method, id);
            Metadata t = new Metadata();
            t.put(Metadata.Key.of("www-authenticate", Metadata.ASCII_STRING_MARSHALLER), TokenAuth.WWW_AUTHENTICATE);
            tagged.close(Status.UNAUTHENTICATED.withDescription(headers.get(AUTHORIZATION) == null
                    ? "authentication required: send metadata 'authorization: Bearer <token>'" : "invalid bearer token"), t);
            return new ServerCall.Listener<>() {};
        }
        Context ctx = Context.current().withValue(REQUEST_ID_CTX, id);
        if (!"ModelInfer".equals(method)) return Contexts.interceptCall(ctx, tagged, headers, next);
        MemoryBudget.Ticket ticket = budget.open();
        ServerCall.Listener<Q> inner = Contexts.interceptCall(ctx.withValue(TICKET_CTX, ticket), tagged, headers, next);
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(inner) {
            private boolean rejected;

            @Override
            public void onMessage(Q message) {
                if (rejected) return;
                long size = message instanceof MessageLite ml ? ml.getSerializedSize() : 0;
                try {
                    ticket.reserve(MemoryBudget.GRPC_MESSAGE_FACTOR * size, "the request message");
                } catch (InferenceException e) {
                    rejected = true;
                    ticket.close();
                    Metadata t = new Metadata();
                    if (e.kind() == InferenceException.Kind.QUEUE_FULL) t.put(RETRY_AFTER, "1");
                    LOG.debugf("gRPC ModelInfer refused (request %s): %s", id, e.getMessage());
                    tagged.close(Status.fromCode(e.kind().grpcCode).withDescription(e.getMessage()), t);
                    return;
                }
                super.onMessage(message);
            }

            @Override
            public void onHalfClose() {
                if (!rejected) super.onHalfClose();
            }

            @Override
            public void onReady() {
                if (!rejected) super.onReady();
            }

            @Override
            public void onCancel() {
                ticket.close();
                super.onCancel();
            }

            @Override
            public void onComplete() {
                ticket.close();
                super.onComplete();
            }
        };
    }
}
