package io.freqfusion.backend;

import java.util.Map;

/**
 * A backend that can say where device time goes (TornadoVM: its JIT and profiler). The service publishes these
 * as Prometheus counters; the interface lives in the core so that the service needs no accelerator classes.
 */
public interface ProfiledBackend extends Backend {

    /** Total time spent compiling kernels / task graphs so far, in nanoseconds (monotonic). */
    long compileNanos();

    /**
     * Cumulative kernel time per task, in nanoseconds (monotonic per task). Task names come from a small fixed
     * set (one per op of the forward), so they are safe as metric labels.
     */
    Map<String, Long> kernelNanosTotal();
}
