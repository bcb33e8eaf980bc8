package io.freqfusion.golden;

import io.freqfusion.Golden;
import io.freqfusion.backend.cpu.CpuBackend;
import io.freqfusion.model.FusionModel;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.model.Topology;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;


/** Every golden case through the CPU backend, single- and multi-threaded, every output element within tolerance. */
class CpuGoldenTest {
    private static final CpuBackend ONE = new CpuBackend(1), TWO = new CpuBackend(2);

    static List<Path> cases() throws IOException { return Golden.files(); }

    @AfterAll
    static void close() {
        ONE.close();
        TWO.close();
    }

    /**
     * A request may ask for some outputs only; the forward then skips what only the others need (an fpn-add level is
     * summed without writing its stage's hr_feat and lr_feat). Each output asked for alone, and a pyramid's levels
     * alone, must be bit-identical to the full run's and within the golden tolerance.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void outputsAskedForAloneMatchTheFullRun(Path file) throws IOException {
        SafeTensors.Contents c = SafeTensors.read(file);
        FusionModel model = ModelLoader.load(c, "param.", Map.of());
        Map<String, Tensor> in = Golden.inputs(c), want = Golden.outputs(c);
        try (FusionRunner runner = new FusionRunner(model, TWO)) {
            Map<String, Tensor> full = runner.run(in, null);
            List<List<String>> asks = new ArrayList<>();
            for (String name : model.outputNames()) asks.add(List.of(name));
            if (model.topology() != Topology.SINGLE) asks.add(model.outputNames().stream().filter(model::alwaysMade).toList());
            for (List<String> ask : asks) {
                Map<String, Tensor> got = runner.run(in, ask, null);
                for (String name : model.outputNames()) {
                    assertEquals(ask.contains(name) || model.alwaysMade(name), got.containsKey(name), file.getFileName() + " " + ask + ": " + name + " made");
                }
                for (String name : got.keySet()) {
                    String what = file.getFileName() + " asked " + ask + ": " + name;
                    assertArrayEquals(full.get(name).data(), got.get(name).data(), what + " differs from the full run");
                    if (want.containsKey(name)) Golden.assertClose(what, want.get(name), got.get(name));
                }
            }
        }
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
