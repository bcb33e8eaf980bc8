package io.freqfusion.serve.rest;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.freqfusion.serve.InferenceException;
import io.freqfusion.serve.InferenceService;
import io.freqfusion.serve.ServeConfig;
import io.freqfusion.serve.admission.MemoryBudget;
import io.freqfusion.serve.metrics.ServeMetrics;
import io.freqfusion.serve.security.TokenAuth;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;
import org.jboss.logging.MDC;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The first handler of every HTTP request (a Vert.x route ahead of Quarkus's own body-size check, before any body byte
 * is read): request id (X-Request-Id accepted or generated, echoed, in the MDC), bearer-token authentication, and
 * for inference requests the body-size limit (413 with an OIP error body), the admission budget (429 with
 * Retry-After), reserved from the declared Content-Length and released when the response has been written, and the
 * body itself, read into one array before the request goes on to the REST resource.
 */
@ApplicationScoped
public class HttpGate {
    private static final Logger LOG = Logger.getLogger(HttpGate.class);
    /** Route order: just ahead of Quarkus's upload limit route (RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT = -2). */
    static final int ORDER = -3;
    public static final String TICKET = "freqfusion.ticket";
    public static final String REQUEST_ID = "freqfusion.requestId";
    /** An inference request's body as read by the gate (byte[]). */
    public static final String BODY = "freqfusion.body";
    public static final String MDC_KEY = "requestId";
    private static final Pattern INFER = Pattern.compile("/v2/models/([^/]*)(/versions/[^/]*)?/infer/?");

    @Inject
    ServeConfig config;
    @Inject
    MemoryBudget budget;
    @Inject
    TokenAuth auth;
    @Inject
    InferenceService service;

    void install(@Observes Router router) {
        router.route().order(ORDER).handler(this::handle);
    }

    void handle(RoutingContext rc) {
        HttpServerRequest req = rc.request();
        String id = TokenAuth.requestId(req.getHeader(TokenAuth.REQUEST_ID_HEADER));
        rc.put(REQUEST_ID, id);
        rc.response().putHeader(TokenAuth.REQUEST_ID_HEADER, id);
        MDC.put(MDC_KEY, id);
        String path = req.path();
        if (auth.enabled() && protectedPath(path) && !auth.accepts(req.getHeader("Authorization"))) {
            rc.response().putHeader("WWW-Authenticate", TokenAuth.WWW_AUTHENTICATE);
            reject(rc, 401, req.getHeader("Authorization") == null ? "authentication required: send 'Authorization: Bearer <token>'"
                    : "invalid bearer token", false);
            return;
        }
        Matcher m = req.method() == HttpMethod.POST ? INFER.matcher(path) : null;
        if (m == null || !m.matches()) {
            rc.next();
            return;
        }
        // a body is held in one array: a limit configured past the largest array is that array's size
        long max = Math.min(config.limits().maxBodyBytes(), BodyBuffer.MAX_BYTES);
        String cl = req.getHeader("Content-Length");
        long declared;
        try {
            declared = cl == null ? -1 : Long.parseLong(cl.strip());
        } catch (NumberFormatException e) {
            reject(rc, 400, "Content-Length '" + abbreviate(cl) + "' is not an integer", true);
            return;
        }
        String model = service.metricModel(m.group(1));
        if (declared > max) {
            service.metrics().request(model, ServeMetrics.REST, "client_error", 0, 0, 0);
            reject(rc, 413, "request body of " + declared + " bytes exceeds the limit of " + max + " bytes (freqfusion.limits.max-body-bytes)", true);
            return;
        }
        MemoryBudget.Ticket ticket = budget.open();
        try {
            // chunked bodies (no Content-Length) may grow to the body limit: reserve for that
            ticket.reserve(MemoryBudget.REST_BODY_FACTOR * (declared < 0 ? max : declared), "the request body");
        } catch (InferenceException e) {
            service.metrics().request(model, ServeMetrics.REST, e.kind().outcome, 0, 0, 0);
            reject(rc, e.kind().httpStatus, e.getMessage(), false);
            return;
        }
        rc.put(TICKET, ticket);
        rc.addEndHandler(ar -> ticket.close());
        readBody(rc, declared, max);
    }

    /**
     * Reads an inference request's body into one array (sized from Content-Length; a chunked body grows it up to the
     * limit), then passes the request on with the array under {@link #BODY}. Each network buffer is copied once, on
     * the event loop, as it arrives: the REST layer's own reading of a large body hands every network buffer from the
     * event loop to the worker thread and copies the body three more times (a 20 MB body took 100–160 ms to read).
     */
    private static void readBody(RoutingContext rc, long declared, long max) {
        HttpServerRequest req = rc.request();
        BodyBuffer body = new BodyBuffer(declared, max);
        req.handler(chunk -> {
            if (body.failed) return;
            if (!body.append(chunk)) {
                body.failed = true;
                reject(rc, 413, "request body exceeds the limit of " + max + " bytes (freqfusion.limits.max-body-bytes)", true);
            }
        });
        req.endHandler(v -> {
            if (body.failed) return;
            rc.put(BODY, body.bytes());
            rc.next();
        });
        if ("100-continue".equalsIgnoreCase(req.getHeader("Expect"))) rc.response().writeContinue();
        req.resume();
    }

    /** A request body being received: one array, exact when the length was declared. */
    static final class BodyBuffer {
        /** The largest byte[] the JVM allocates. */
        static final long MAX_BYTES = Integer.MAX_VALUE - 8;
        private final long max;
        private byte[] data;
        private int size;
        boolean failed;

        BodyBuffer(long declared, long max) {
            this.max = max;
            this.data = new byte[(int) (declared >= 0 ? declared : Math.min(max, 64 * 1024))];
        }

        /** Appends a network buffer; false (nothing appended) when the body would exceed the limit. */
        boolean append(io.vertx.core.buffer.Buffer chunk) {
            int n = chunk.length();
            if (size + (long) n > max) return false;
            if (size + n > data.length) data = java.util.Arrays.copyOf(data, (int) Math.min(max, Math.max(size + (long) n, 2L * data.length)));
            chunk.getBytes(0, n, data, size);
            size += n;
            return true;
        }

        byte[] bytes() { return size == data.length ? data : java.util.Arrays.copyOf(data, size); }
    }

    private boolean protectedPath(String path) {
        if (path.startsWith("/v2/health/")) return false;
        if (path.equals("/v2") || path.startsWith("/v2/")) return true;
        return auth.protectMetrics() && path.startsWith("/q/metrics");
    }

    /** Answers at once with an OIP error body, without reading the request body (discarded, or the connection closed). */
    private static void reject(RoutingContext rc, int status, String message, boolean close) {
        LOG.debugf("refused %s %s: %d %s", rc.request().method(), rc.request().path(), status, message);
        var resp = rc.response().setStatusCode(status).putHeader("Content-Type", "application/json");
        if (status == 429 || status == 503) resp.putHeader("Retry-After", "1");
        HttpServerRequest req = rc.request();
        if (close) {
            resp.putHeader("Connection", "close");
            resp.endHandler(v -> req.connection().close());
        } else if (!req.isEnded()) {
            // keep the connection usable: read the rest of the body into nothing
            req.handler(b -> {});
            req.resume();
        }
        resp.end("{\"error\":\"" + new String(JsonStringEncoder.getInstance().quoteAsString(message)) + "\"}");
    }

    private static String abbreviate(String s) { return s.length() > 32 ? s.substring(0, 32) + "..." : s; }
}
