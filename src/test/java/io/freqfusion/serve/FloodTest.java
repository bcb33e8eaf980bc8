package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.freqfusion.backend.Backends;
import io.freqfusion.model.FusionModel;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.serve.admission.MemoryBudget;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Overload (issue 7): 60 concurrent clients - ten times the capacity (queue capacity 4 + max batch 2) - each get a
 * binary request of 640 KiB answered (hr 1x8x128x128, lr 1x8x64x64; ~30 MiB of reserved working set each against a
 * 96 MiB admission budget), retrying a 429 after 250-750 ms (jittered, shorter than the 1 s of Retry-After). Checks: no
 * 5xx (only 200 and 429 with Retry-After), every 200 is exactly the direct FusionRunner result for its input, the
 * budget is never exceeded and is fully released, the live heap (used after a full GC, sampled every second) grows by
 * at most the budget + 192 MiB (cached plans, Vert.x buffer pools) + what the test's own client holds in the same JVM
 * (up to 60 requests of 640 KiB and their 2.6 MiB JSON/binary answers at once: 3 MiB per client), as does the heap
 * retained after the flood; the process RSS stays under the maximum heap + 1 GiB of native memory (RSS follows the heap
 * the JVM has committed, which grows under allocation pressure up to -Xmx whatever the live set is, so the live heap
 * is the bound that says something about the service). The figures are printed (README "Reliability").
 */
@QuarkusTest
@TestProfile(Profiles.Flood.class)
class FloodTest {
    static final int CLIENTS = 60, REQUESTS_PER_CLIENT = 1, VARIANTS = 3;
    /** Server-side slack plus the test client's own buffers (it runs in the same JVM): 3 MiB per concurrent client. */
    static final long LIVE_HEAP_SLACK = (192L << 20) + CLIENTS * (3L << 20), RSS_BOUND = Runtime.getRuntime().maxMemory() + (1L << 30);
    static final int MAX_ATTEMPTS = 400;

    @TestHTTPResource("/v2/models/small_c8/infer")
    URL infer;
    @Inject
    MemoryBudget budget;

    static long rssBytes(String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith(field + ":")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }

    static long heapUsed() { return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed(); }

    static Map<String, Tensor> variant(int v) {
        SplittableRandom r = new SplittableRandom(1000 + v);
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (var e : Map.of("hr_feat", new int[] {1, 8, 128, 128}, "lr_feat", new int[] {1, 8, 64, 64}).entrySet()) {
            Tensor t = Tensor.zeros(e.getValue());
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) d[i] = (float) (r.nextDouble() * 2 - 1);
            m.put(e.getKey(), t);
        }
        Map<String, Tensor> ordered = new LinkedHashMap<>();
        ordered.put("hr_feat", m.get("hr_feat"));
        ordered.put("lr_feat", m.get("lr_feat"));
        return ordered;
    }

    @Test
    void tenTimesCapacityNo5xxCorrectResultsBoundedMemory() throws Exception {
        OipTestClient.awaitLoaded("small_c8");
        // the expected results, straight from the core (the same weights as the served model)
        Path dir = TestModels.root().resolve("flood/small_c8");
        Map<String, Object> opts = ModelLoader.parseOptions(Files.readString(dir.resolve("config.json")));
        opts.remove("max_batch_size");
        FusionModel model = ModelLoader.load(dir.resolve("weights.safetensors"), "", opts);
        List<Map<String, Tensor>> expected = new ArrayList<>();
        List<byte[]> bodies = new ArrayList<>();
        List<Integer> headers = new ArrayList<>();
        try (FusionRunner runner = new FusionRunner(model, Backends.create("cpu", Map.of("threads", "2")))) {
            for (int v = 0; v < VARIANTS; v++) {
                Map<String, Tensor> in = variant(v);
                expected.add(runner.run(in, null));
                Object[] req = OipTestClient.binaryRequest(in, "FP32", true);
                headers.add((Integer) req[0]);
                bodies.add((byte[]) req[1]);
            }
        }
        System.gc();
        long heapBase = heapUsed(), rssBase = rssBytes("VmRSS");
        AtomicLong liveMax = new AtomicLong(heapBase), rssMax = new AtomicLong(rssBase);
        AtomicInteger gcs = new AtomicInteger();
        Thread sampler = Thread.ofPlatform().daemon(true).start(() -> {
            long nextGc = System.nanoTime();
            while (!Thread.currentThread().isInterrupted()) {
                rssMax.accumulateAndGet(rssBytes("VmRSS"), Math::max);
                if (System.nanoTime() >= nextGc) { // heap used after GC = the live set at this moment
                    System.gc();
                    gcs.incrementAndGet();
                    liveMax.accumulateAndGet(heapUsed(), Math::max);
                    nextGc = System.nanoTime() + 1_000_000_000L;
                }
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });

        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
                .executor(Executors.newFixedThreadPool(8)).build();
        Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
        AtomicInteger wrong = new AtomicInteger(), missingRetryAfter = new AtomicInteger(), maxInflightSeen = new AtomicInteger();
        List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        long t0 = System.nanoTime();
        List<Future<?>> futures = new ArrayList<>();
        for (int ci = 0; ci < CLIENTS; ci++) {
            int client = ci;
            futures.add(clients.submit(() -> {
                start.await();
                SplittableRandom rnd = new SplittableRandom(client);
                for (int k = 0; k < REQUESTS_PER_CLIENT; k++) {
                    int v = (client + k) % VARIANTS;
                    for (int attempt = 0; ; attempt++) {
                        HttpRequest req = HttpRequest.newBuilder(infer.toURI()).timeout(Duration.ofSeconds(60))
                                .header("Content-Type", "application/octet-stream").header("Inference-Header-Content-Length", headers.get(v).toString())
                                .header("X-Request-Id", "flood-" + client + "-" + k + "-" + attempt)
                                .POST(HttpRequest.BodyPublishers.ofByteArray(bodies.get(v))).build();
                        HttpResponse<byte[]> r = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
                        statuses.computeIfAbsent(r.statusCode(), s -> new AtomicInteger()).incrementAndGet();
                        if (r.statusCode() == 200) {
                            String err = compare(r, expected.get(v));
                            if (err != null) {
                                wrong.incrementAndGet();
                                problems.add(err);
                            }
                            break;
                        }
                        if (r.statusCode() != 429) {
                            problems.add(r.statusCode() + ": " + new String(r.body(), 0, Math.min(300, r.body().length), StandardCharsets.UTF_8));
                            break;
                        }
                        if (r.headers().firstValue("Retry-After").isEmpty()) missingRetryAfter.incrementAndGet();
                        if (attempt >= MAX_ATTEMPTS) {
                            problems.add("client " + client + " never served");
                            break;
                        }
                        Thread.sleep(250 + rnd.nextInt(500));
                    }
                }
                return null;
            }));
        }
        start.countDown();
        for (Future<?> f : futures) f.get();
        double seconds = (System.nanoTime() - t0) / 1e9;
        clients.shutdown();
        sampler.interrupt();
        sampler.join();
        System.gc();
        long heapAfter = heapUsed();

        Map<Integer, Integer> counts = new HashMap<>();
        statuses.forEach((k, v) -> counts.put(k, v.get()));
        System.out.printf("FLOOD: %d clients x %d requests (640 KiB binary each, 429s retried after 250-750 ms) in %.1f s: statuses %s; admission budget"
                        + " %d MiB, peak reserved %d MiB; heap used after GC (%d samples): before %d MiB, max during %d MiB (+%d MiB), after %d MiB;"
                        + " RSS before %d MiB, max %d MiB (+%d MiB)%n",
                CLIENTS, REQUESTS_PER_CLIENT, seconds, counts, budget.capacity() >> 20, budget.peak() >> 20, gcs.get(), heapBase >> 20, liveMax.get() >> 20,
                (liveMax.get() - heapBase) >> 20, heapAfter >> 20, rssBase >> 20, rssMax.get() >> 20, (rssMax.get() - rssBase) >> 20);

        assertTrue(problems.isEmpty(), problems.size() + " problems, first: " + (problems.isEmpty() ? "" : problems.get(0)));
        assertEquals(0, wrong.get());
        for (int s : counts.keySet()) assertTrue(s == 200 || s == 429, "unexpected status " + s + " (" + counts + ")");
        assertEquals(CLIENTS * REQUESTS_PER_CLIENT, counts.getOrDefault(200, 0), "every request served in the end: " + counts);
        assertTrue(counts.getOrDefault(429, 0) >= 1, "a flood at 10x capacity must be shed: " + counts);
        assertEquals(0, missingRetryAfter.get(), "every 429 carries Retry-After");
        assertTrue(budget.peak() <= Profiles.Flood.BUDGET, "reservations never exceed the budget");
        assertEquals(0, budget.used(), "every reservation released");
        assertTrue(liveMax.get() - heapBase <= Profiles.Flood.BUDGET + LIVE_HEAP_SLACK,
                "live heap grew by " + ((liveMax.get() - heapBase) >> 20) + " MiB, bound " + ((Profiles.Flood.BUDGET + LIVE_HEAP_SLACK) >> 20) + " MiB");
        assertTrue(rssMax.get() < RSS_BOUND, "RSS " + (rssMax.get() >> 20) + " MiB, bound (max heap + 1 GiB) " + (RSS_BOUND >> 20) + " MiB");
        assertTrue(heapAfter - heapBase <= Profiles.Flood.BUDGET + LIVE_HEAP_SLACK, "retained after the flood: " + ((heapAfter - heapBase) >> 20) + " MiB");
    }

    /** null if the binary response holds exactly the expected outputs. */
    static String compare(HttpResponse<byte[]> r, Map<String, Tensor> want) {
        byte[] body = r.body();
        String hl = r.headers().firstValue("Inference-Header-Content-Length").orElse(null);
        if (hl == null) return "no binary outputs";
        int h = Integer.parseInt(hl);
        int offset = h;
        String json = new String(body, 0, h, StandardCharsets.UTF_8);
        for (String name : List.of("mask", "hr_feat", "lr_feat")) {
            if (!json.contains("\"name\":\"" + name + "\"")) return "output " + name + " missing";
            float[] w = want.get(name).data();
            if (offset + 4L * w.length > body.length) return "short body for " + name;
            var fb = ByteBuffer.wrap(body, offset, 4 * w.length).slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            for (int i = 0; i < w.length; i++) {
                float g = fb.get(i);
                if (Math.abs(g - w[i]) > 1e-5f + 1e-5f * Math.abs(w[i])) return name + "[" + i + "]: " + g + " != " + w[i];
            }
            offset += 4 * w.length;
        }
        return offset == body.length ? null : "trailing bytes";
    }
}
