package io.freqfusion.tornado;

import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** ../shared/golden access and the golden tolerance |got - want| <= 1e-4 + 1e-4 |want| (shared/golden/README.md). */
final class GoldenFiles {
    static final double ATOL = 1e-4, RTOL = 1e-4;

    private GoldenFiles() {}

    static Path dir() {
        String p = System.getProperty("freqfusion.golden.dir", System.getenv().getOrDefault("FREQFUSION_GOLDEN_DIR", "../../shared/golden"));
        Path d = Path.of(p);
        if (!Files.isDirectory(d)) fail("golden directory not found: " + d.toAbsolutePath() + " (set -Dfreqfusion.golden.dir)");
        return d;
    }

    static List<Path> files() throws IOException {
        try (Stream<Path> s = Files.list(dir())) {
            List<Path> l = s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
            assertTrue(l.size() >= 23, "expected the golden set, found " + l.size() + " files");
            return l;
        }
    }

    /** Worst |d| / (atol + rtol |want|) and worst |d| over all elements (NaN counts as infinitely bad). */
    record Error(double ratio, double abs, int at) {}

    static Error compare(Tensor want, Tensor got) {
        assertArrayEquals(want.shape(), got.shape(), "shape");
        float[] w = want.data(), g = got.data();
        double worst = 0, worstAbs = 0;
        int at = -1;
        for (int i = 0; i < w.length; i++) {
            double d = Math.abs((double) g[i] - w[i]);
            double r = d / (ATOL + RTOL * Math.abs(w[i]));
            if (Double.isNaN(r)) r = Double.POSITIVE_INFINITY;
            if (r > worst || at < 0) {
                worst = r;
                at = i;
            }
            if (!(d <= worstAbs)) worstAbs = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
        }
        return new Error(worst, worstAbs, at);
    }

    static Map<String, Tensor> withPrefix(SafeTensors.Contents c, String prefix) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        c.tensors().forEach((k, v) -> { if (k.startsWith(prefix)) m.put(k.substring(prefix.length()), v); });
        return m;
    }
}
