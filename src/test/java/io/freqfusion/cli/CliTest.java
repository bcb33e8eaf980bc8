package io.freqfusion.cli;

import io.freqfusion.Golden;
import io.freqfusion.tensor.Npy;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** {@code freqfusion fuse} on the golden files exactly as the README shows, and its error behaviour. */
class CliTest {

    record Result(int code, String out, String err) {}

    static Result cli(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(o, true), new PrintStream(e, true));
        return new Result(code, o.toString(), e.toString());
    }

    static List<Path> cases() throws Exception { return Golden.files(); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void fuseReproducesGoldenFile(Path file, @TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out.safetensors");
        List<String> args = new ArrayList<>(List.of("fuse", "--model", file.toString(), "--params-prefix", "param.",
                "--input", file.toString(), "--inputs-prefix", "input.", "--output", out.toString(), "--outputs-prefix", "output."));
        String kind = SafeTensors.read(file).metadata().getOrDefault("kind", "single");
        if (!kind.equals("single")) args.addAll(List.of("--pyramid", kind.replace('_', '-')));
        Result r = cli(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        Map<String, Tensor> got = SafeTensors.read(out).tensors();
        Map<String, Tensor> want = SafeTensors.read(file).tensors();
        int compared = 0;
        for (var e : want.entrySet()) {
            if (!e.getKey().startsWith("output.")) continue;
            assertTrue(got.containsKey(e.getKey()), "missing " + e.getKey());
            Golden.assertClose(file.getFileName() + " " + e.getKey(), e.getValue(), got.get(e.getKey()));
            compared++;
        }
        assertTrue(compared >= 3);
    }

    @Test
    void infoNamesTheBackendsAndTheCpuBackendsVectorWidth() {
        Result r = cli("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("backends: [") && r.out().contains("cpu"), r.out());
        int bits = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize();
        assertTrue(r.out().matches("(?s).*cpu: cpu \\(\\d+ threads, [^,]+, " + bits + "-bit vectors\\).*"), r.out());
    }

    @Test
    void npyInputsAndOutputDirectory(@TempDir Path tmp) throws Exception {
        SafeTensors.Contents c = Golden.read("small_c8");
        Npy.write(tmp.resolve("hr_feat.npy"), c.require("input.hr_feat"));
        Npy.write(tmp.resolve("lr.npy"), c.require("input.lr_feat"));
        Path outDir = tmp.resolve("out");
        Result r = cli("fuse", "--model", Golden.dir().resolve("small_c8.safetensors").toString(), "--params-prefix", "param.",
                "--input", tmp.resolve("hr_feat.npy").toString(), "--input", "lr_feat=" + tmp.resolve("lr.npy"), "--output", outDir.toString());
        assertEquals(0, r.code(), r.err());
        Golden.assertClose("npy lr_feat", c.require("output.lr_feat"), Npy.read(outDir.resolve("lr_feat.npy")));
        Golden.assertClose("npy mask", c.require("output.mask"), Npy.read(outDir.resolve("mask.npy")));
    }

    @Test
    void withoutModelUsesTheReferenceInitSizedToTheInputs(@TempDir Path tmp) throws Exception {
        Path in = Golden.dir().resolve("small_c8.safetensors");
        Result r = cli("fuse", "--input", in.toString(), "--inputs-prefix", "input.", "--output", tmp.resolve("o.safetensors").toString());
        assertEquals(0, r.code(), r.err());
        Tensor mask = SafeTensors.read(tmp.resolve("o.safetensors")).require("mask");
        // At reference init the low-pass kernel is ~ the normalised 5x5 Hamming window: centre tap ~ 1 / (sum a)^2.
        double s = 0.08 + 0.54 + 1 + 0.54 + 0.08;
        assertEquals(1 / (s * s), mask.data()[12 * 64 + 3 * 8 + 3], 0.01);   // logits are small, not zero
    }

    @Test
    void badInputGivesOneLineReasonAndNonZeroExit(@TempDir Path tmp) throws Exception {
        Result missing = cli("fuse", "--model", tmp.resolve("nope.safetensors").toString(), "--input", "x.safetensors", "--output", "o.safetensors");
        assertNotEquals(0, missing.code());
        assertTrue(missing.err().startsWith("freqfusion: no such file"), missing.err());
        assertFalse(missing.err().contains("\tat "), "no stack trace");

        Path junk = tmp.resolve("junk.safetensors");
        Files.write(junk, new byte[] {1, 2, 3});
        Result trunc = cli("fuse", "--model", junk.toString(), "--input", junk.toString(), "--output", tmp.resolve("o.safetensors").toString());
        assertEquals(1, trunc.code());
        assertTrue(trunc.err().contains("junk.safetensors: truncated"), trunc.err());

        Path g = Golden.dir().resolve("small_c8.safetensors");
        Result cfg = cli("fuse", "--model", g.toString(), "--params-prefix", "param.", "--config", "{\"up_group\": 2}",
                "--input", g.toString(), "--inputs-prefix", "input.", "--output", tmp.resolve("o.safetensors").toString());
        assertEquals(1, cfg.code());
        assertTrue(cfg.err().contains("up_group=2"), cfg.err());

        Result names = cli("fuse", "--model", g.toString(), "--params-prefix", "param.", "--input", g.toString(), "--output", tmp.resolve("o.safetensors").toString());
        assertEquals(1, names.code());
        assertTrue(names.err().contains("missing input 'hr_feat'"), names.err());

        Result flag = cli("fuse", "--bogus", "1");
        assertEquals(2, flag.code());
        assertTrue(flag.err().startsWith("freqfusion: unknown option --bogus"), flag.err());

        Result backend = cli("fuse", "--model", g.toString(), "--params-prefix", "param.", "--input", g.toString(), "--inputs-prefix", "input.",
                "--output", tmp.resolve("o.safetensors").toString(), "--backend", "tornado");
        assertEquals(1, backend.code());
        assertTrue(backend.err().contains("backend 'tornado' is not available"), backend.err());
        for (Result r : List.of(missing, trunc, cfg, names, backend)) assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void benchPrintsJsonSummaryLast() {
        Result r = cli("bench", "--workload", "W1", "--warmup", "1", "--warmup-seconds", "0", "--runs", "3", "--threads", "1");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().strip().lines().toList();
        String last = lines.get(lines.size() - 1);
        assertTrue(last.startsWith("{\"workload\":\"W1\",\"config\":\"default\",\"backend\":\"cpu\",\"threads\":1,\"median_ms\":"), last);
        assertTrue(last.contains("\"gflops\":") && last.contains("\"alloc_bytes_per_op\":"), last);
        assertEquals(3, lines.stream().filter(l -> l.startsWith("run ")).count());
        assertTrue(lines.contains("outputs: mask hr_feat lr_feat"), r.out());

        Result some = cli("bench", "--workload", "W1", "--warmup", "0", "--warmup-seconds", "0", "--runs", "1", "--threads", "1",
                "--outputs", "lr_feat");
        assertEquals(0, some.code(), some.err());
        assertTrue(some.out().lines().toList().contains("outputs: lr_feat"), some.out());
        Result levels = cli("bench", "--workload", "W1", "--runs", "1", "--outputs", "levels");
        assertEquals(2, levels.code());
        assertTrue(levels.err().contains("a single module has no levels"), levels.err());
        Result unknown = cli("bench", "--workload", "W1", "--runs", "1", "--outputs", "y9");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("unknown output 'y9'"), unknown.err());
    }
}
