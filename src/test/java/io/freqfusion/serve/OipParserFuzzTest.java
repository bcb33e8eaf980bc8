package io.freqfusion.serve;

import io.freqfusion.model.ModelLoader;
import io.freqfusion.model.Topology;
import io.freqfusion.serve.repository.ServedModel;
import io.freqfusion.serve.rest.OipRestCodec;
import io.freqfusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded mutation fuzzing of the OIP REST request parser (JSON bodies and the binary tensor data extension framing)
 * followed by the service's validation ({@link InferenceService#prepare}) against a real model: every mutated request
 * must either be accepted or rejected with a client error (InferenceException 400 / 413) - never another exception.
 * In the style of io.freqfusion.tensor.ParserFuzzTest: brief by default, {@code -Dfreqfusion.fuzz.iterations=1000000}
 * for a long run, {@code -Dfreqfusion.fuzz.seed=N} to reproduce.
 */
class OipParserFuzzTest {
    private static final int ITERATIONS = Integer.getInteger("freqfusion.fuzz.iterations", 20_000);
    private static final long SEED = Long.getLong("freqfusion.fuzz.seed", 20261129L);
    private static final long MAX_ELEMENTS = 1 << 16;

    private static final InferenceService SERVICE = new InferenceService();
    private static final ServedModel MODEL = ServedModel.of("small", ModelLoader.builtIn(Topology.SINGLE, 4, 2, Map.of(), 0), 4);

    static {
        ServeConfig.Limits limits = proxy(ServeConfig.Limits.class, Map.of("maxBodyBytes", 1L << 20, "maxTensorElements", MAX_ELEMENTS,
                "maxBatch", 4, "maxSpatial", 64, "maxInflightBytes", 0L, "maxInflightHeapFraction", 0.5));
        SERVICE.config = proxy(ServeConfig.class, Map.of("limits", limits));
    }

    @SuppressWarnings("unchecked")
    static <T> T proxy(Class<T> type, Map<String, Object> values) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, a) -> {
            if (m.getName().equals("toString")) return type.getSimpleName();
            Object v = values.get(m.getName());
            if (v == null) throw new UnsupportedOperationException(m.getName());
            return v;
        });
    }

    static Map<String, Tensor> inputs() {
        float[] hr = new float[4 * 8 * 8], lr = new float[4 * 4 * 4];
        for (int i = 0; i < hr.length; i++) hr[i] = (float) Math.sin(i);
        for (int i = 0; i < lr.length; i++) lr[i] = (float) Math.cos(i);
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("hr_feat", new Tensor(new int[] {1, 4, 8, 8}, hr));
        m.put("lr_feat", new Tensor(new int[] {1, 4, 4, 4}, lr));
        return m;
    }

    static byte[] jsonSeed() {
        return (OipTestClient.jsonRequest("fuzz", inputs(), List.of("mask", "lr_feat")).toString()).getBytes(StandardCharsets.UTF_8);
    }

    /** [header length, body] */
    static Object[] binarySeed(String dtype) {
        return OipTestClient.binaryRequest(inputs(), dtype, true);
    }

    static final String[] TOKENS = {"NaN", "Infinity", "-Infinity", "1e39", "-1e400", "1e-400", "99999999999999999999999999", "-1",
            "0", "2147483648", "9223372036854775808", "null", "true", "\"x\"", "{}", "[]", "[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]",
            "1.5", "\"FP16\"", "\"BF16\"", "\"INT8\"", "\"hr_feat\"", "\"lr_feat\"", "\"mask\"", ",", ":", "\"binary_data_size\":4", "\uFFFF", "\\u0000"};

    static byte[] mutate(byte[] seed, int protectTail, SplittableRandom rnd) {
        byte[] b = seed.clone();
        int head = Math.max(1, b.length - protectTail); // mutate mostly the JSON part
        switch (rnd.nextInt(9)) {
            case 0 -> {
                for (int i = 0, n = 1 + rnd.nextInt(6); i < n; i++) b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
            }
            case 1 -> b = Arrays.copyOf(b, rnd.nextInt(b.length + 1));
            case 2 -> {
                byte[] e = Arrays.copyOf(b, b.length + 1 + rnd.nextInt(64));
                for (int i = b.length; i < e.length; i++) e[i] = (byte) rnd.nextInt(256);
                b = e;
            }
            case 3, 4 -> { // replace a number or token in the JSON with a hostile one
                String s = new String(b, 0, head, StandardCharsets.ISO_8859_1);
                int i = rnd.nextInt(s.length());
                int j = Math.min(s.length(), i + 1 + rnd.nextInt(12));
                String t = TOKENS[rnd.nextInt(TOKENS.length)];
                byte[] mid = (s.substring(0, i) + t + s.substring(j)).getBytes(StandardCharsets.UTF_8);
                b = concat(mid, Arrays.copyOfRange(b, head, b.length));
            }
            case 5 -> { // duplicate a slice (duplicate keys, repeated inputs)
                int i = rnd.nextInt(head), j = Math.min(head, i + rnd.nextInt(80));
                b = concat(Arrays.copyOf(b, j), Arrays.copyOfRange(b, i, b.length));
            }
            case 6 -> { // delete a slice
                int i = rnd.nextInt(head), j = Math.min(b.length, i + 1 + rnd.nextInt(40));
                b = concat(Arrays.copyOf(b, i), Arrays.copyOfRange(b, j, b.length));
            }
            case 7 -> { // deep nesting
                int i = rnd.nextInt(head);
                String open = rnd.nextBoolean() ? "[" : "{\"a\":";
                b = concat(concat(Arrays.copyOf(b, i), open.repeat(1 + rnd.nextInt(3000)).getBytes(StandardCharsets.UTF_8)),
                        Arrays.copyOfRange(b, i, b.length));
            }
            default -> { // swap two bytes
                int i = rnd.nextInt(b.length), j = rnd.nextInt(b.length);
                byte t = b[i];
                b[i] = b[j];
                b[j] = t;
            }
        }
        return b;
    }

    static byte[] concat(byte[] a, byte[] c) {
        byte[] r = Arrays.copyOf(a, a.length + c.length);
        System.arraycopy(c, 0, r, a.length, c.length);
        return r;
    }

    static final String[] HEADER_LENGTHS = {"-1", "0", "1", "2", "99999999999", "abc", " 12 ", "2147483648", "-2147483649", ""};

    /** Parses and validates; returns true if accepted. Throws AssertionError on anything but a client error. */
    static boolean attempt(byte[] body, String headerLength) {
        try {
            OipRestCodec.Request r = OipRestCodec.parse(body, headerLength, MAX_ELEMENTS);
            List<String> outs = new ArrayList<>();
            r.outputs().forEach(o -> outs.add(o.name()));
            SERVICE.prepare(MODEL, r.inputs(), outs);
            return true;
        } catch (InferenceException e) {
            int s = e.kind().httpStatus;
            if (s != 400 && s != 413) throw new AssertionError("status " + s + ": " + e.getMessage(), e);
            if (e.getMessage() == null || e.getMessage().isBlank()) throw new AssertionError("no message", e);
            return false;
        }
    }

    private static void fuzz(String what, byte[] seed, int binaryTail, String headerLength) {
        SplittableRandom rnd = new SplittableRandom(SEED);
        assertTrue(attempt(seed, headerLength), what + ": the seed itself must be accepted");
        int accepted = 0;
        for (int it = 0; it < ITERATIONS; it++) {
            byte[] input = mutate(seed, binaryTail, rnd);
            String hl = headerLength;
            if (headerLength != null) {
                int jsonLen = input.length - binaryTail;
                int k = rnd.nextInt(6);
                hl = k < 4 ? Integer.toString(Math.max(0, jsonLen)) : k == 4 ? HEADER_LENGTHS[rnd.nextInt(HEADER_LENGTHS.length)]
                        : Integer.toString(jsonLen + rnd.nextInt(17) - 8);
            }
            try {
                if (attempt(input, hl)) accepted++;
            } catch (Throwable t) {
                fail(what + " iteration " + it + " (seed " + SEED + "): " + t + " for a body of " + input.length + " bytes, header length " + hl
                        + ": " + new String(input, 0, Math.min(input.length, 300), StandardCharsets.ISO_8859_1), t);
            }
        }
        assertTrue(accepted < ITERATIONS, what + ": some mutations must be rejected");
    }

    @Test
    void jsonRequestsOnlyEverRejectCleanly() {
        fuzz("OIP JSON", jsonSeed(), 0, null);
    }

    @Test
    void binaryExtensionOnlyEverRejectsCleanly() {
        Object[] s = binarySeed("FP32");
        byte[] body = (byte[]) s[1];
        fuzz("binary extension FP32", body, body.length - (Integer) s[0], Integer.toString((Integer) s[0]));
    }

    @Test
    void halfPrecisionBinaryOnlyEverRejectsCleanly() {
        Object[] s = binarySeed("FP16");
        byte[] body = (byte[]) s[1];
        // NaN / Inf bit patterns in the raw FP16 section must be caught by the finiteness check
        ByteBuffer.wrap(body, (Integer) s[0], 2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3c00);
        fuzz("binary extension FP16", body, body.length - (Integer) s[0], Integer.toString((Integer) s[0]));
    }
}
