package io.freqfusion.tensor;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded mutation fuzzing of the safetensors and .npy readers: every mutated file must either parse or be
 * rejected with {@link TensorFormatException} - never another exception, never an allocation sized by an
 * unchecked length. Runs briefly by default; {@code -Dfreqfusion.fuzz.iterations=1000000} for a long run,
 * {@code -Dfreqfusion.fuzz.seed=N} to reproduce.
 */
class ParserFuzzTest {
    private static final int ITERATIONS = Integer.getInteger("freqfusion.fuzz.iterations", 20_000);
    private static final long SEED = Long.getLong("freqfusion.fuzz.seed", 20261129L);

    private static byte[] validSafetensors() throws Exception {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("input.hr_feat", new Tensor(new int[] {1, 2, 4, 4}, new float[32]));
        m.put("param.w", new Tensor(new int[] {3, 2, 1, 1}, new float[] {1, 2, 3, 4, 5, 6}));
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        SafeTensors.write(o, m, Map.of("module_kwargs", "{\"hr_channels\": 2}"));
        return o.toByteArray();
    }

    private static byte[] validNpy() throws Exception {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        Npy.write(o, new Tensor(new int[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}));
        return o.toByteArray();
    }

    static byte[] mutate(byte[] seed, SplittableRandom rnd) {
        byte[] b = seed.clone();
        int kind = rnd.nextInt(7);
        switch (kind) {
            case 0 -> { // flip random bits
                for (int i = 0, n = 1 + rnd.nextInt(8); i < n; i++) b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
            }
            case 1 -> { // truncate
                b = java.util.Arrays.copyOf(b, rnd.nextInt(b.length));
            }
            case 2 -> { // extend with junk
                byte[] e = java.util.Arrays.copyOf(b, b.length + 1 + rnd.nextInt(64));
                for (int i = b.length; i < e.length; i++) e[i] = (byte) rnd.nextInt(256);
                b = e;
            }
            case 3 -> { // overwrite the length prefix with something hostile
                long[] hostile = {0, 1, 7, Long.MAX_VALUE, -1, Integer.MAX_VALUE, b.length, b.length - 8, 1L << 33};
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, hostile[rnd.nextInt(hostile.length)]);
            }
            case 4 -> { // replace a digit in the header text with a large or negative number
                String s = new String(b, StandardCharsets.ISO_8859_1);
                int i = indexOfDigit(s, rnd);
                if (i > 0) {
                    String[] repl = {"-1", "99999999999", "2147483647", "0", "1e9", "4294967296", "65536,65536,65536"};
                    s = s.substring(0, i) + repl[rnd.nextInt(repl.length)] + s.substring(i + 1);
                    b = s.getBytes(StandardCharsets.ISO_8859_1);
                }
            }
            case 5 -> { // swap two bytes in the header region
                int n = Math.min(b.length, 200);
                int i = rnd.nextInt(n), j = rnd.nextInt(n);
                byte t = b[i];
                b[i] = b[j];
                b[j] = t;
            }
            default -> { // random bytes in the header region
                for (int i = 0, n = 1 + rnd.nextInt(4); i < n; i++) b[8 + rnd.nextInt(Math.max(1, Math.min(b.length - 8, 150)))] = (byte) rnd.nextInt(256);
            }
        }
        return b;
    }

    private static int indexOfDigit(String s, SplittableRandom rnd) {
        int start = rnd.nextInt(Math.max(1, Math.min(s.length(), 300)));
        for (int i = Math.max(8, start); i < Math.min(s.length(), 400); i++) if (Character.isDigit(s.charAt(i))) return i;
        return -1;
    }

    private static void fuzz(String what, byte[] seed, Consumer<ByteBuffer> parser) {
        SplittableRandom rnd = new SplittableRandom(SEED);
        for (int it = 0; it < ITERATIONS; it++) {
            byte[] input = mutate(seed, rnd);
            try {
                parser.accept(ByteBuffer.wrap(input));
            } catch (TensorFormatException expected) {
                // rejected with a reason: fine
            } catch (Throwable t) {
                fail(what + " iteration " + it + " (seed " + SEED + "): " + t + " for input of " + input.length + " bytes", t);
            }
        }
    }

    @Test
    void safetensorsReaderOnlyEverRejectsCleanly() throws Exception {
        fuzz("safetensors", validSafetensors(), SafeTensors::read);
    }

    @Test
    void npyReaderOnlyEverRejectsCleanly() throws Exception {
        fuzz("npy", validNpy(), Npy::read);
    }
}
