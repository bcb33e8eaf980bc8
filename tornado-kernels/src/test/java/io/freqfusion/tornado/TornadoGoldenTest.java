package io.freqfusion.tornado;

import io.freqfusion.backend.Backends;
import io.freqfusion.model.FusionModel;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every ../shared/golden case through FusionRunner on the TornadoVM backend (device from -Dfreqfusion.tornado.device,
 * default 0:0 = PoCL here), every output element within the golden tolerance. Runs each case twice (the second run
 * reuses the cached execution plan: weights must stay on the device, inputs must be re-sent).
 */
class TornadoGoldenTest {
    private static TornadoBackend backend;
    private static final Map<String, String> SUMMARY = new TreeMap<>();

    static List<Path> cases() throws IOException { return GoldenFiles.files(); }

    @BeforeAll
    static void open() {
        var b = Backends.create("tornado", Map.of("device", System.getProperty("freqfusion.tornado.device", "0:0")));
        backend = assertInstanceOf(TornadoBackend.class, b, "ServiceLoader finds the tornado provider");
        System.out.println("[tornado] device: " + backend.device());
    }

    @AfterAll
    static void close() {
        System.out.println("[tornado] golden summary (worst |got-want| / (1e-4 + 1e-4 |want|) over all outputs; max abs error):");
        SUMMARY.forEach((k, v) -> System.out.println("[tornado]   " + k + "  " + v));
        System.out.printf(Locale.ROOT, "[tornado] graphs compiled: %d, JIT time %.1f s, prepare time %.1f s%n",
                backend.compiledGraphs(), backend.compileNanos() / 1e9, backend.prepareNanos() / 1e9);
        if (backend != null) backend.close();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesGolden(Path file) throws IOException {
        SafeTensors.Contents c = SafeTensors.read(file);
        FusionModel model = ModelLoader.load(c, "param.", Map.of());
        Map<String, Tensor> want = GoldenFiles.withPrefix(c, "output.");
        Map<String, Tensor> in = GoldenFiles.withPrefix(c, "input.");
        assertTrue(want.size() >= 3, "golden file has outputs");
        try (FusionRunner runner = new FusionRunner(model, backend)) {
            double worst = 0, worstAbs = 0;
            String worstName = "";
            for (int pass = 0; pass < 2; pass++) {
                Map<String, Tensor> got = runner.run(in, null);
                for (var e : want.entrySet()) {
                    Tensor g = got.get(e.getKey());
                    assertNotNull(g, "output " + e.getKey() + " produced");
                    GoldenFiles.Error err = GoldenFiles.compare(e.getValue(), g);
                    String what = file.getFileName() + " " + e.getKey() + " (pass " + (pass + 1) + ")";
                    assertTrue(err.ratio() <= 1.0, () -> what + ": element " + err.at() + " got " + g.data()[err.at()] + " want "
                            + e.getValue().data()[err.at()] + String.format(Locale.ROOT, " (%.2fx the tolerance)", err.ratio()));
                    if (err.ratio() > worst) {
                        worst = err.ratio();
                        worstName = e.getKey();
                    }
                    worstAbs = Math.max(worstAbs, err.abs());
                }
            }
            SUMMARY.put(file.getFileName().toString().replace(".safetensors", ""),
                    String.format(Locale.ROOT, "%.3f (%s), max abs %.2e", worst, worstName, worstAbs));
        }
    }

    @Test
    void profilerApiReportsTasksAndTransfers() throws IOException {
        SafeTensors.Contents c = SafeTensors.read(GoldenFiles.dir().resolve("small_c8.safetensors"));
        FusionModel model = ModelLoader.load(c, "param.", Map.of());
        try (FusionRunner runner = new FusionRunner(model, backend)) {
            runner.run(GoldenFiles.withPrefix(c, "input."), null);
            long before = backend.executions();
            var times = new io.freqfusion.backend.StageTimes();
            runner.run(GoldenFiles.withPrefix(c, "input."), times);
            assertEquals(before + 1, backend.executions());
            Map<String, Long> prof = backend.lastProfile();
            assertTrue(prof.keySet().containsAll(List.of("compress_hr", "enc_lh", "norm_kl", "carafe_lr", "carafe_hr")), "per-task kernel times: " + prof);
            assertTrue(prof.values().stream().allMatch(v -> v >= 0));
            TornadoBackend.ExecutionProfile p = backend.lastExecution();
            // only inputs cross per call: X_h (8*8*8) and X_l (8*4*4) floats, not the weights
            long inputBytes = 4L * (8 * 64 + 8 * 16);
            assertTrue(p.bytesIn() <= inputBytes + 1024, "bytes copied in per call: " + p.bytesIn() + " (inputs are " + inputBytes + ")");
            assertTrue(backend.compileNanos() > 0, "JIT time recorded");
            long total = 0;
            for (var s : io.freqfusion.backend.Stage.values()) total += times.nanos(s);
            assertTrue(total > 0, "stage times recorded");
            assertFalse(backend.kernelNanosTotal().isEmpty());
        }
    }
}
