package io.freqfusion;

import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Access to ../shared/golden and the golden tolerance |got - want| <= 1e-4 + 1e-4 |want|. */
public final class Golden {
    public static final double ATOL = 1e-4, RTOL = 1e-4;

    private Golden() {}

    public static Path dir() {
        String p = System.getProperty("freqfusion.golden.dir", System.getenv().getOrDefault("FREQFUSION_GOLDEN_DIR", "../shared/golden"));
        Path d = Path.of(p);
        if (!Files.isDirectory(d)) fail("golden directory not found: " + d.toAbsolutePath() + " (set -Dfreqfusion.golden.dir)");
        return d;
    }

    public static List<Path> files() throws IOException {
        try (Stream<Path> s = Files.list(dir())) {
            List<Path> l = s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
            assertTrue(l.size() >= 23, "expected the golden set, found " + l.size() + " files");
            return l;
        }
    }

    public static SafeTensors.Contents read(String caseName) throws IOException {
        return SafeTensors.read(dir().resolve(caseName + ".safetensors"));
    }

    public static SafeTensors.Contents readUnchecked(String caseName) {
        try {
            return read(caseName);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Asserts every element within tolerance; returns the worst |d| / (atol + rtol |want|) ratio. */
    public static double assertClose(String what, Tensor want, Tensor got) {
        assertArrayEquals(want.shape(), got.shape(), what + ": shape");
        float[] w = want.data(), g = got.data();
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < w.length; i++) {
            double d = Math.abs((double) g[i] - w[i]);
            double r = d / (ATOL + RTOL * Math.abs(w[i]));
            if (!(r <= worst)) { // catches NaN too
                worst = Double.isNaN(r) ? Double.POSITIVE_INFINITY : r;
                worstAt = i;
            }
        }
        if (worst > 1.0) {
            fail(what + ": element " + worstAt + " got " + g[worstAt] + " want " + w[worstAt] + " (" + String.format("%.2f", worst) + "x the tolerance)");
        }
        return worst;
    }

    /** The expected outputs of a golden file, names without the "output." prefix. */
    public static Map<String, Tensor> outputs(SafeTensors.Contents c) {
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        c.tensors().forEach((k, v) -> { if (k.startsWith("output.")) m.put(k.substring(7), v); });
        return m;
    }

    /**
     * Loads the case's model (parameters under "param.", config from its metadata), runs its inputs on the backend and
     * asserts every stored output within tolerance. Returns the worst ratio to the tolerance.
     */
    public static double assertCaseMatches(String what, SafeTensors.Contents c, io.freqfusion.backend.Backend backend) {
        var model = io.freqfusion.model.ModelLoader.load(c, "param.", Map.of());
        Map<String, Tensor> want = outputs(c);
        assertTrue(want.size() >= 3, what + ": the file has outputs");
        double worst = 0;
        try (var runner = new io.freqfusion.runtime.FusionRunner(model, backend)) {
            Map<String, Tensor> got = runner.run(inputs(c), null);
            for (var e : want.entrySet()) {
                Tensor g = got.get(e.getKey());
                assertTrue(g != null, what + ": output " + e.getKey() + " produced");
                worst = Math.max(worst, assertClose(what + " " + e.getKey(), e.getValue(), g));
            }
        }
        return worst;
    }

    public static Map<String, Tensor> inputs(SafeTensors.Contents c) {
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        c.tensors().forEach((k, v) -> { if (k.startsWith("input.")) m.put(k.substring(6), v); });
        return m;
    }
}
