package io.freqfusion.tornado;

import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The launcher path: {@code ./freqfusion fuse --backend tornado} on golden files (a fresh JVM started with the SDK's
 * argfile by tornado-jvm-flags.sh), outputs compared with the golden ones. Uses this build's classes
 * (FREQFUSION_TORNADO_JAR=target/classes) and the root build made by run-tests.sh (FREQFUSION_SKIP_BUILD=1).
 */
class TornadoCliTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"small_c8", "opt_feature_resample", "fpn_concat_paper_c16"})
    void fuseReproducesGolden(String name) throws Exception {
        Path root = Path.of(System.getProperty("freqfusion.root", "..")).toAbsolutePath().normalize();
        Path golden = GoldenFiles.dir().resolve(name + ".safetensors").toAbsolutePath();
        Path out = tmp.resolve(name + ".out.safetensors");
        Path classes = Path.of("target/classes").toAbsolutePath();
        ProcessBuilder pb = new ProcessBuilder(List.of(root.resolve("freqfusion").toString(), "fuse", "--backend", "tornado",
                "--model", golden.toString(), "--params-prefix", "param.", "--input", golden.toString(), "--inputs-prefix", "input.",
                "--output", out.toString())).directory(root.toFile()).redirectErrorStream(true);
        pb.environment().put("FREQFUSION_TORNADO_JAR", classes.toString());
        pb.environment().put("FREQFUSION_SKIP_BUILD", "1");
        pb.environment().putIfAbsent("TORNADOVM_HOME", "/opt/tornadovm-sdk");
        Process p = pb.start();
        String log;
        if (!p.waitFor(600, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("./freqfusion fuse timed out");
        }
        log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), () -> "./freqfusion fuse --backend tornado failed:\n" + log);
        assertTrue(log.contains("wrote "), log);

        Map<String, Tensor> want = GoldenFiles.withPrefix(SafeTensors.read(golden), "output.");
        Map<String, Tensor> got = SafeTensors.read(out).tensors();
        double worst = 0;
        for (var e : want.entrySet()) {
            Tensor g = got.get(e.getKey());
            assertNotNull(g, "CLI output " + e.getKey());
            GoldenFiles.Error err = GoldenFiles.compare(e.getValue(), g);
            assertTrue(err.ratio() <= 1.0, () -> name + " " + e.getKey() + ": " + String.format(Locale.ROOT, "%.2fx the tolerance at %d", err.ratio(), err.at()));
            worst = Math.max(worst, err.ratio());
        }
        System.out.printf(Locale.ROOT, "[tornado] CLI fuse %s: %d outputs within tolerance (worst %.3f of it)%n", name, want.size(), worst);
    }

}
