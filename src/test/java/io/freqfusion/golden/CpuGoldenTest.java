package io.freqfusion.golden;

import io.freqfusion.Golden;
import io.freqfusion.backend.cpu.CpuBackend;
import io.freqfusion.model.FusionModel;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

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
        FusionModel model = ModelLoader.load(c, "param.", Map.of());
        Map<String, Tensor> want = Golden.outputs(c);
        for (CpuBackend backend : List.of(ONE, TWO)) {
            try (FusionRunner runner = new FusionRunner(model, backend)) {
                Map<String, Tensor> got = runner.run(Golden.inputs(c), null);
                assertTrue(want.size() >= 3, "golden file has outputs");
                for (var e : want.entrySet()) {
                    Tensor g = got.get(e.getKey());
                    assertTrue(g != null, "output " + e.getKey() + " produced");
                    Golden.assertClose(file.getFileName() + " " + e.getKey() + " (threads=" + backend.threads() + ")", e.getValue(), g);
                }
            }
        }
    }
}
