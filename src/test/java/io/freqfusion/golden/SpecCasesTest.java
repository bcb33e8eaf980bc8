package io.freqfusion.golden;

import io.freqfusion.Golden;
import io.freqfusion.backend.cpu.CpuBackend;
import io.freqfusion.tensor.SafeTensors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Cases beyond the public golden set - batch 3, odd and non-square sizes with resampling, bilinear with
 * align_corners, k_l = 7 with k_h = 1 and dilation 3, a 1x1 lr map - computed by the spec's NumPy reference in
 * float64 (tools/make_spec_cases.py), checked with the golden tolerance.
 */
class SpecCasesTest {
    private static final CpuBackend CPU = new CpuBackend(2);

    @AfterAll
    static void close() { CPU.close(); }

    static List<Path> cases() throws IOException, URISyntaxException {
        Path dir = Path.of(SpecCasesTest.class.getResource("/spec-cases").toURI());
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> l = s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
            assertEquals(9, l.size());
            return l;
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesTheSpecReference(Path file) throws IOException {
        Golden.assertCaseMatches(file.getFileName().toString(), SafeTensors.read(file), CPU);
    }
}
