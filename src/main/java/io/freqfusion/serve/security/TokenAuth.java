package io.freqfusion.serve.security;

import io.freqfusion.serve.ServeConfig;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Optional bearer-token authentication ({@code freqfusion.auth.token} or {@code freqfusion.auth.token-file}; off when
 * neither is set). Tokens are compared in constant time (SHA-256 of both sides, then {@link MessageDigest#isEqual}),
 * so neither the content nor the length of the token leaks through timing. Also the request-id rules.
 */
@ApplicationScoped
@io.quarkus.runtime.Startup
public class TokenAuth {
    private static final Logger LOG = Logger.getLogger(TokenAuth.class);
    public static final String REQUEST_ID_HEADER = "X-Request-Id";
    public static final String WWW_AUTHENTICATE = "Bearer realm=\"freqfusion\"";
    private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9._:/+=-]{1,128}");

    @Inject
    ServeConfig config;

    private byte[] tokenDigest;

    @PostConstruct
    void init() {
        String token = config.auth().token().filter(t -> !t.isBlank()).orElse(null);
        if (token == null && config.auth().tokenFile().isPresent()) {
            try {
                String s = Files.readString(config.auth().tokenFile().get(), StandardCharsets.UTF_8).strip();
                int nl = s.indexOf('\n');
                token = (nl >= 0 ? s.substring(0, nl) : s).strip();
            } catch (IOException e) {
                throw new UncheckedIOException("freqfusion.auth.token-file: cannot read " + config.auth().tokenFile().get(), e);
            }
            if (token.isEmpty()) throw new IllegalStateException("freqfusion.auth.token-file " + config.auth().tokenFile().get() + " is empty");
        }
        tokenDigest = token == null ? null : sha256(token);
        LOG.infof("authentication: %s", tokenDigest == null ? "off" : "bearer token required on /v2 (except /v2/health) and gRPC (except ServerLive/ServerReady)"
                + (config.auth().protectMetrics() ? " and /q/metrics" : ""));
    }

    public boolean enabled() { return tokenDigest != null; }

    public boolean protectMetrics() { return config.auth().protectMetrics(); }

    /** Whether an Authorization header value ("Bearer <token>") carries the configured token (always true when auth is off). */
    public boolean accepts(String authorization) {
        if (tokenDigest == null) return true;
        if (authorization == null) return false;
        String a = authorization.strip();
        if (a.length() < 7 || !a.regionMatches(true, 0, "Bearer ", 0, 7)) return false;
        return MessageDigest.isEqual(tokenDigest, sha256(a.substring(7).strip()));
    }

    /** The client's request id if it is acceptable (1-128 of [A-Za-z0-9._:/+=-]), else a new one. */
    public static String requestId(String given) {
        if (given != null && REQUEST_ID.matcher(given).matches()) return given;
        ThreadLocalRandom r = ThreadLocalRandom.current();
        return Long.toHexString(r.nextLong() | Long.MIN_VALUE) + Long.toHexString(r.nextLong() | Long.MIN_VALUE).substring(0, 8);
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
