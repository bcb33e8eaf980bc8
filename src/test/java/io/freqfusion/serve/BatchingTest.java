package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Concurrent requests within max_queue_delay (100 ms here) are coalesced into one forward, and each gets its own result. */
@QuarkusTest
@TestProfile(Profiles.Batching.class)
class BatchingTest {

    @Test
    void concurrentRequestsAreBatched() throws Exception {
        OipTestClient.awaitLoaded("small_c8");
        SafeTensors.Contents c = Golden.read("small_c8");
        Map<String, Tensor> in = Golden.inputs(c);
        int n = 6;
        // Request i sends the golden inputs scaled by (1 + i/8); its answer must equal the answer computed alone.
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float s = 1 + i / 8f;
            Map<String, Tensor> scaled = new LinkedHashMap<>();
            in.forEach((k, t) -> {
                float[] d = t.data().clone();
                for (int j = 0; j < d.length; j++) d[j] *= s;
                scaled.put(k, new Tensor(t.shape(), d));
            });
            bodies.add(OipTestClient.jsonRequest("r" + i, scaled, null).toString());
        }
        List<Map<String, Tensor>> alone = new ArrayList<>();
        for (String b : bodies) {
            Response r = OipTestClient.postJson("small_c8", b);
            assertEquals(200, r.statusCode(), r.asString());
            alone.add(OipTestClient.outputs(r));
        }
        double before = maxBatchSeen();
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<Response>> fs = new ArrayList<>();
            for (String b : bodies) fs.add(pool.submit(() -> OipTestClient.postJson("small_c8", b)));
            for (int i = 0; i < n; i++) {
                Response r = fs.get(i).get();
                assertEquals(200, r.statusCode(), r.asString());
                assertEquals("r" + i, r.path("id"));
                Map<String, Tensor> got = OipTestClient.outputs(r);
                for (var e : alone.get(i).entrySet()) Golden.assertClose("request " + i + " " + e.getKey(), e.getValue(), got.get(e.getKey()));
            }
        } finally {
            pool.shutdownNow();
        }
        // the golden answer for the unscaled request still holds
        Golden.outputs(c).forEach((k, v) -> Golden.assertClose("unscaled " + k, v, alone.get(0).get(k)));
        double after = maxBatchSeen();
        String m = given().get("/q/metrics").asString();
        assertTrue(after > 1 || bucketAbove1(m) > 0, "no batch > 1 recorded; batch metrics:\n" + batchLines(m) + " before=" + before);
    }

    static double maxBatchSeen() {
        String m = given().get("/q/metrics").asString();
        Matcher x = Pattern.compile("freqfusion_batch_size_max\\{model=\"small_c8\"} ([0-9.E]+)").matcher(m);
        return x.find() ? Double.parseDouble(x.group(1)) : 0;
    }

    /** Forwards with batch > 1: count - bucket(le=1). */
    static double bucketAbove1(String m) {
        Matcher c = Pattern.compile("freqfusion_batch_size_count\\{model=\"small_c8\"} ([0-9.E]+)").matcher(m);
        Matcher b = Pattern.compile("freqfusion_batch_size_bucket\\{model=\"small_c8\",le=\"1.0\"} ([0-9.E]+)").matcher(m);
        return c.find() && b.find() ? Double.parseDouble(c.group(1)) - Double.parseDouble(b.group(1)) : 0;
    }

    static String batchLines(String m) {
        return String.join("\n", m.lines().filter(l -> l.startsWith("freqfusion_batch_size")).toList());
    }
}
