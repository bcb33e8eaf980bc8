package io.freqfusion.loadtest;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * gRPC load driver for OIP v2 {@code inference.GRPCInferenceService/ModelInfer}, with the same workloads and
 * load profiles as the Gatling simulations. No Gatling gRPC plugin is served by Maven Central here, so this
 * drives grpc-java directly: open-model arrivals at the profile's rate, one shared HTTP/2 channel, requests
 * hand-encoded (no generated stubs needed), latency and status per call. Prints a report, writes
 * results/grpc-latencies.csv and results/grpc-summary.txt, and exits 1 when a call ends in anything but OK
 * (or, where the scenario expects overload, RESOURCE_EXHAUSTED).
 * <p>Run: {@code mvn -q test-compile exec:java -Dscenario=steady -Dworkload=w1} (see loadtest/README.md).
 */
public final class GrpcLoadDriver {

    static final MethodDescriptor.Marshaller<byte[]> RAW = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try (stream) {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    static final MethodDescriptor<byte[], byte[]> MODEL_INFER = MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("inference.GRPCInferenceService/ModelInfer")
            .setRequestMarshaller(RAW).setResponseMarshaller(RAW).build();

    public static void main(String[] args) throws Exception {
        String host = System.getProperty("target.host", "127.0.0.1");
        int port = Integer.getInteger("target.grpcPort", 9000);
        Loopback.require(host);
        Workload w = Workload.fromSystemProperties();
        Profile profile = Profile.fromSystemProperties(RestInferSimulation.defaultRate(w));
        int maxInflight = Integer.getInteger("maxInflight", 1000);
        Path out = Path.of(System.getProperty("loadtest.results", "results"));
        Files.createDirectories(out);
        byte[] request = w.grpcRequest();
        System.out.printf("[loadtest] gRPC ModelInfer %s on %s:%d, request %d bytes: %s%n", w.model(), host, port, request.length, profile);

        ManagedChannel ch = NettyChannelBuilder.forAddress(host, port).usePlaintext()
                .maxInboundMessageSize(256 << 20).build();
        Map<String, LongAdder> codes = new ConcurrentHashMap<>();
        ConcurrentLinkedQueue<long[]> samples = new ConcurrentLinkedQueue<>(); // {startMillisSinceRun, latencyMicros, ok?1:0}
        AtomicLong responseBytes = new AtomicLong();
        Semaphore inflight = new Semaphore(maxInflight);
        LongAdder shed = new LongAdder();

        long t0 = System.nanoTime();
        long sent = 0;
        double elapsedPhases = 0;
        for (Profile.Phase ph : profile.phases()) {
            // arrival i of the phase at time t where integral of the rate reaches i (linear rate ramp)
            double a = ph.from(), b = ph.to(), T = ph.seconds();
            double total = (a + b) / 2 * T;
            for (long i = 0; i < (long) Math.floor(total); i++) {
                double t = arrivalTime(i + 0.5, a, b, T);
                long due = t0 + (long) ((elapsedPhases + t) * 1e9);
                long wait;
                while ((wait = due - System.nanoTime()) > 0) LockSupport.parkNanos(Math.min(wait, 5_000_000));
                if (!inflight.tryAcquire()) { // client-side cap: count, do not queue unboundedly
                    shed.increment();
                    continue;
                }
                long start = System.nanoTime();
                sent++;
                ClientCalls.asyncUnaryCall(ch.newCall(MODEL_INFER, CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS)),
                        request, new StreamObserver<byte[]>() {
                            @Override
                            public void onNext(byte[] value) {
                                responseBytes.addAndGet(value.length);
                            }

                            @Override
                            public void onError(Throwable t) {
                                Status s = Status.fromThrowable(t);
                                done(s.getCode().name(), false);
                            }

                            @Override
                            public void onCompleted() {
                                done("OK", true);
                            }

                            private void done(String code, boolean ok) {
                                long now = System.nanoTime();
                                codes.computeIfAbsent(code, k -> new LongAdder()).increment();
                                samples.add(new long[] {(start - t0) / 1_000_000, (now - start) / 1_000, ok ? 1 : 0});
                                inflight.release();
                            }
                        });
            }
            elapsedPhases += T;
        }
        double sendSeconds = (System.nanoTime() - t0) / 1e9;
        if (!inflight.tryAcquire(maxInflight, 90, TimeUnit.SECONDS)) System.err.println("[loadtest] calls still running after 90 s");
        double wallSeconds = (System.nanoTime() - t0) / 1e9;
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);

        long[] okLat = samples.stream().filter(s -> s[2] == 1).mapToLong(s -> s[1]).sorted().toArray();
        Map<String, Long> counts = new TreeMap<>();
        codes.forEach((k, v) -> counts.put(k, v.sum()));
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("scenario=%s workload=%s model=%s protocol=grpc%n", profile.scenario(), w.id(), w.model()));
        sb.append(String.format("sent=%d shed_client_side=%d send_window_s=%.1f wall_s=%.1f%n", sent, shed.sum(), sendSeconds, wallSeconds));
        sb.append("status_counts=").append(counts).append('\n');
        sb.append(String.format("ok_throughput_rps=%.2f response_MB=%.1f%n", okLat.length / sendSeconds, responseBytes.get() / 1e6));
        if (okLat.length > 0) {
            sb.append(String.format("ok_latency_ms p50=%.1f p90=%.1f p95=%.1f p99=%.1f max=%.1f mean=%.1f%n",
                    pct(okLat, 50), pct(okLat, 90), pct(okLat, 95), pct(okLat, 99), okLat[okLat.length - 1] / 1e3,
                    Arrays.stream(okLat).average().orElse(0) / 1e3));
        }
        System.out.print("[loadtest] gRPC result:\n" + sb);
        Files.writeString(out.resolve("grpc-summary.txt"), sb.toString());
        StringBuilder csv = new StringBuilder("start_ms,latency_ms,ok\n");
        samples.stream().sorted((x, y) -> Long.compare(x[0], y[0]))
                .forEach(s -> csv.append(s[0]).append(',').append(String.format("%.3f", s[1] / 1e3)).append(',').append(s[2]).append('\n'));
        Files.writeString(out.resolve("grpc-latencies.csv"), csv.toString());

        long unexpected = counts.entrySet().stream()
                .filter(e -> !e.getKey().equals("OK") && !(profile.expectsRejections() && e.getKey().equals("RESOURCE_EXHAUSTED")))
                .mapToLong(Map.Entry::getValue).sum();
        if (unexpected > 0 || okLat.length == 0) {
            System.err.println("[loadtest] ASSERTION FAILED: " + unexpected + " calls ended with an unexpected status (allowed: OK"
                    + (profile.expectsRejections() ? ", RESOURCE_EXHAUSTED" : "") + "), ok=" + okLat.length);
            System.exit(1);
        }
        System.out.println("[loadtest] assertions passed: only OK" + (profile.expectsRejections() ? " / RESOURCE_EXHAUSTED" : ""));
        System.exit(0);
    }

    /** Time t in [0,T] where the count of arrivals of a linear rate a..b reaches n. */
    static double arrivalTime(double n, double a, double b, double T) {
        if (Math.abs(b - a) < 1e-9) return n / a;
        double k = (b - a) / T; // rate(t) = a + k t; N(t) = a t + k t^2 / 2
        return (-a + Math.sqrt(a * a + 2 * k * n)) / k;
    }

    static double pct(long[] sortedMicros, double p) {
        int i = (int) Math.ceil(p / 100.0 * sortedMicros.length) - 1;
        return sortedMicros[Math.max(0, Math.min(sortedMicros.length - 1, i))] / 1e3;
    }

}
