package io.freqfusion.serve.metrics;

import io.freqfusion.backend.ForwardShape;
import io.freqfusion.backend.ModuleForward;
import io.freqfusion.backend.ProfiledBackend;
import io.freqfusion.model.FreqFusionModule;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** JIT time and per-task kernel times of a profiled (accelerator) backend reach the meter registry. */
class BackendProfileMetricsTest {

    /** Stands in for the TornadoVM backend: fixed compile time, kernel times that grow per forward. */
    static final class FakeProfiled implements ProfiledBackend {
        final Map<String, Long> kernels = new LinkedHashMap<>();
        public String name() { return "tornado"; }
        public String device() { return "fake"; }
        public ModuleForward prepare(FreqFusionModule module, ForwardShape shape) { throw new UnsupportedOperationException(); }
        public long compileNanos() { return 1_500_000_000L; }
        public Map<String, Long> kernelNanosTotal() { return kernels; }
    }

    @Test
    void compileAndKernelTimesArePublishedAsCounters() {
        ServeMetrics metrics = new ServeMetrics();
        metrics.registry = new SimpleMeterRegistry();
        FakeProfiled b = new FakeProfiled();
        metrics.backendCompileTime(b);
        metrics.backendKernelTimes(b);
        assertNull(metrics.registry.find("freqfusion.backend.kernel.seconds").functionCounter(), "no tasks compiled yet");
        b.kernels.put("carafe_lr", 2_000_000L);
        b.kernels.put("compress_hr", 1_000_000L);
        metrics.backendKernelTimes(b);
        b.kernels.put("carafe_lr", 5_000_000L);
        metrics.backendKernelTimes(b);
        assertEquals(1.5, metrics.registry.get("freqfusion.backend.compile.seconds").tag("backend", "tornado").functionCounter().count(), 1e-9);
        assertEquals(0.005, metrics.registry.get("freqfusion.backend.kernel.seconds").tag("task", "carafe_lr").functionCounter().count(), 1e-12);
        assertEquals(0.001, metrics.registry.get("freqfusion.backend.kernel.seconds").tag("task", "compress_hr").functionCounter().count(), 1e-12);
    }
}
