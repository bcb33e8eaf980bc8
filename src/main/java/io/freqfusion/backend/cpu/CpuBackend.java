package io.freqfusion.backend.cpu;

import io.freqfusion.backend.Backend;
import io.freqfusion.backend.ForwardShape;
import io.freqfusion.backend.ModuleForward;
import io.freqfusion.model.FreqFusionModule;

/** The pure-Java backend: multi-threaded kernels on flat arrays, the embedded default. */
public final class CpuBackend implements Backend {
    private final Parallel parallel;
    /** Packed weights per module, shared by its forwards of every shape (held as long as the module is). */
    private final java.util.Map<FreqFusionModule, PackedModule> packed =
            java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    public CpuBackend(int threads) {
        this.parallel = new Parallel(threads);
    }

    /** One thread per available processor. */
    public CpuBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    @Override
    public String name() { return "cpu"; }

    /** Names the vector width too: the kernels' speed depends on it (AVX-512 machines run 16-lane code, AVX2 ones 8). */
    @Override
    public String device() {
        return "cpu (" + parallel.threads() + " threads, " + System.getProperty("os.arch") + ", " + VectorKernels.S.vectorBitSize()
                + "-bit vectors)";
    }

    public int threads() { return parallel.threads(); }

    @Override
    public ModuleForward prepare(FreqFusionModule module, ForwardShape shape) {
        return new CpuModuleForward(parallel, module, packed.computeIfAbsent(module, PackedModule::new), shape);
    }

    @Override
    public void close() { parallel.close(); }
}
