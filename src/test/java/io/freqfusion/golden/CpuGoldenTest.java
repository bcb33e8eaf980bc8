package io.freqfusion.golden;

import io.freqfusion.Golden;
import io.freqfusion.backend.cpu.CpuBackend;
import io.freqfusion.tensor.SafeTensors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;


/** Every golden case through the CPU backend, single- and multi-threaded, every output element within tolerance. */
class CpuGoldenTest {
    private static final CpuBackend ONE = new CpuBackend(1), TWO = new CpuBackend(2);

    static List<Path> cases() throws IOException { return Golden.files(); }

    @AfterAll
    static void close() {
        ONE.close();
        TWO.close();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesGolden(Path file) throws IOException {
        SafeTensors.Contents c = SafeTensors.read(file);
        for (CpuBackend backend : List.of(ONE, TWO)) {
            Golden.assertCaseMatches(file.getFileName() + " (threads=" + backend.threads() + ")", c, backend);
        }
    }
}
