package io.freqfusion.golden;

import io.freqfusion.Golden;
import io.freqfusion.backend.Backends;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.Map;

/** Runs one golden case's forward (CPU, 2 threads) and writes its outputs: launched by a test in a JVM with -Xint. */
public final class InterpretedForward {
    private InterpretedForward() {}

    public static void main(String[] args) throws Exception {
        SafeTensors.Contents c = SafeTensors.read(Path.of(args[0]));
        try (FusionRunner runner = new FusionRunner(ModelLoader.load(c, "param.", Map.of()), Backends.create("cpu", Map.of("threads", "2")))) {
            Map<String, Tensor> out = runner.run(Golden.inputs(c), null);
            SafeTensors.write(Path.of(args[1]), out, Map.of());
        }
        System.exit(0);
    }
}
