package io.freqfusion.serve;

import io.freqfusion.backend.Backend;
import io.freqfusion.backend.BackendProvider;
import io.freqfusion.backend.ForwardShape;
import io.freqfusion.backend.ModuleForward;
import io.freqfusion.backend.StageTimes;
import io.freqfusion.backend.cpu.CpuBackendProvider;
import io.freqfusion.model.FreqFusionModule;

import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test-only backend "faulty" (registered by the test META-INF/services file): the CPU backend, except that while
 * {@link #FAIL} is set every forward throws as a failing device would (TornadoVM device error, lost context), and
 * while {@link #HOLD} is set every forward waits for it first (a forward under way, for as long as a test needs).
 */
public final class FaultyBackendProvider implements BackendProvider {
    public static final AtomicBoolean FAIL = new AtomicBoolean();
    public static final AtomicInteger FAILURES = new AtomicInteger();
    /** Forwards begun (counted before {@link #HOLD} is waited for). */
    public static final AtomicInteger FORWARDS = new AtomicInteger();
    /** When set, each forward waits until it is counted down (at most a minute). */
    public static volatile CountDownLatch HOLD;

    @Override
    public String name() { return "faulty"; }

    @Override
    public Backend create(Map<String, String> options) {
        Backend cpu = new CpuBackendProvider().create(options);
        return new Backend() {
            @Override
            public String name() { return "faulty"; }

            @Override
            public String device() { return "faulty test device (" + cpu.device() + ")"; }

            @Override
            public ModuleForward prepare(FreqFusionModule module, ForwardShape shape) {
                ModuleForward f = cpu.prepare(module, shape);
                return new ModuleForward() {
                    @Override
                    public ForwardShape shape() { return f.shape(); }

                    @Override
                    public void run(float[] hr, float[] lr, float[] mask, float[] hrOut, float[] lrOut, StageTimes times) {
                        FORWARDS.incrementAndGet();
                        CountDownLatch hold = HOLD;
                        if (hold != null) {
                            try {
                                if (!hold.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("test hold never released");
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                                throw new IllegalStateException(e);
                            }
                        }
                        if (FAIL.get()) {
                            FAILURES.incrementAndGet();
                            throw new IllegalStateException("simulated device error: CL_OUT_OF_RESOURCES");
                        }
                        f.run(hr, lr, mask, hrOut, lrOut, times);
                    }

                    @Override
                    public void close() { f.close(); }
                };
            }

            @Override
            public void close() { cpu.close(); }
        };
    }
}
