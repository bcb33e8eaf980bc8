package io.freqfusion.serve;

/**
 * A request that cannot be (or was not) served, with the protocol-neutral reason. REST maps {@link Kind#httpStatus},
 * gRPC maps {@link Kind#grpcCode}; metrics count {@link Kind#outcome}.
 */
public final class InferenceException extends RuntimeException {

    public enum Kind {
        /** Malformed request, wrong names, datatypes, shapes, counts, non-finite values. */
        INVALID(400, io.grpc.Status.Code.INVALID_ARGUMENT, "client_error"),
        /** Unknown model or version. */
        NOT_FOUND(404, io.grpc.Status.Code.NOT_FOUND, "client_error"),
        /** Body, message or tensor beyond the configured limits. */
        TOO_LARGE(413, io.grpc.Status.Code.RESOURCE_EXHAUSTED, "client_error"),
        /** The model's queue is full: retry later. */
        QUEUE_FULL(429, io.grpc.Status.Code.RESOURCE_EXHAUSTED, "rejected"),
        /** The model is not loaded (LOADING, UNAVAILABLE) or the server is shutting down. */
        UNAVAILABLE(503, io.grpc.Status.Code.UNAVAILABLE, "rejected"),
        /** The request did not complete within its timeout. */
        TIMEOUT(504, io.grpc.Status.Code.DEADLINE_EXCEEDED, "timeout"),
        /** The client went away (connection closed, call cancelled) before its answer: nobody receives the status. */
        CANCELLED(499, io.grpc.Status.Code.CANCELLED, "cancelled"),
        /** A failure of the server or backend. */
        INTERNAL(500, io.grpc.Status.Code.INTERNAL, "error");

        public final int httpStatus;
        public final io.grpc.Status.Code grpcCode;
        public final String outcome;

        Kind(int httpStatus, io.grpc.Status.Code grpcCode, String outcome) {
            this.httpStatus = httpStatus;
            this.grpcCode = grpcCode;
            this.outcome = outcome;
        }
    }

    private final Kind kind;

    public InferenceException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    public InferenceException(Kind kind, String message, Throwable cause) {
        super(message, cause, false, false);
        this.kind = kind;
    }

    public Kind kind() { return kind; }

    public static InferenceException invalid(String message) { return new InferenceException(Kind.INVALID, message); }

    /** Maps any failure of a request to an InferenceException (core IllegalArgumentExceptions are client errors). */
    public static InferenceException of(Throwable t) {
        Throwable c = t;
        while ((c instanceof java.util.concurrent.CompletionException || c instanceof java.util.concurrent.ExecutionException) && c.getCause() != null) {
            c = c.getCause();
        }
        if (c instanceof InferenceException ie) return ie;
        if (c instanceof java.util.concurrent.TimeoutException) return new InferenceException(Kind.TIMEOUT, "request timed out");
        if (c instanceof IllegalArgumentException) return new InferenceException(Kind.INVALID, String.valueOf(c.getMessage()), c);
        return new InferenceException(Kind.INTERNAL, "internal error: " + c.getClass().getSimpleName()
                + (c.getMessage() == null ? "" : ": " + c.getMessage()), c);
    }
}
