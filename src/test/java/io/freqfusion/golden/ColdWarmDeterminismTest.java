package io.freqfusion.golden;

import io.freqfusion.Golden;
import io.freqfusion.backend.Backends;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A request gets the same bits whether the kernels run interpreted (a fresh server's first requests) or JIT-compiled:
 * the forward in a JVM with -Xint against the same forward here after enough runs for C2. Vector API operations whose
 * result is implementation-defined (reduceLanes(ADD)'s order, EXP) differ between the two; the kernels avoid them.
 * The cases take the resampler's GroupNorm and cosine similarity, the normalisers and every reassembly.
 */
class ColdWarmDeterminismTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"opt_paper_config", "opt_all_resample_group8_enc1"})
    void interpretedAndCompiledForwardsAgreeBitForBit(String name) throws Exception {
        Path file = Golden.dir().resolve(name + ".safetensors"), out = tmp.resolve(name + ".out.safetensors");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xint",
                "--add-modules=jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                InterpretedForward.class.getName(), file.toString(), out.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the interpreted forward finished");
        assertEquals(0, p.exitValue(), "the interpreted forward's exit code");
        Map<String, Tensor> interpreted = SafeTensors.read(out).tensors();

        SafeTensors.Contents c = SafeTensors.read(file);
        try (FusionRunner runner = new FusionRunner(ModelLoader.load(c, "param.", Map.of()), Backends.create("cpu", Map.of("threads", "2")))) {
            Map<String, Tensor> in = Golden.inputs(c), compiled = null;
            for (int i = 0; i < 400; i++) compiled = runner.run(in, null);     // C2 compiles the kernels within ~100
            assertEquals(interpreted.keySet(), compiled.keySet());
            for (String o : compiled.keySet()) {
                assertArrayEquals(interpreted.get(o).data(), compiled.get(o).data(), name + ": " + o + " interpreted vs compiled");
            }
        }
    }
}
