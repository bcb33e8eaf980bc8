import java.lang.reflect.Method;
import java.util.Map;

/**
 * Whole-forward A/B of two builds of FreqFusion Serve in one JVM: each build gets its own class loader, CPU backend
 * and runner; blocks of forwards alternate between them, the order flipping every round. Both sides then see the
 * same machine phase (on a noisy VM the same binary moves 20-50 % within an hour, more than most single changes), so
 * the per-round ratio B/A is the figure to read, not the absolute times.
 *
 * <p>Usage: java AbForward LIB_CLASSPATH CLASSES_A CLASSES_B WORKLOAD CONFIG ROUNDS PER_ROUND THREADS
 */
public final class AbForward {
    private static final class Side {
        final Object runner, inputs, outputs;
        final Method run;

        Side(String classes, String libs, String workload, String config, int threads) throws Exception {
            ClassLoader cl = AbHarness.loader(classes, libs);
            Class<?> wl = cl.loadClass("io.freqfusion.runtime.Workload");
            Object w = wl.getMethod("parse", String.class).invoke(null, workload);
            Object model = wl.getMethod("model", String.class, long.class).invoke(w, config, 42L);
            inputs = wl.getMethod("randomInputs", long.class).invoke(w, 7L);
            Object backend = cl.loadClass("io.freqfusion.backend.cpu.CpuBackend").getConstructor(int.class).newInstance(threads);
            Class<?> runnerClass = cl.loadClass("io.freqfusion.runtime.FusionRunner");
            runner = runnerClass.getConstructor(cl.loadClass("io.freqfusion.model.FusionModel"), cl.loadClass("io.freqfusion.backend.Backend"))
                    .newInstance(model, backend);
            // outputs made once and reused, as `freqfusion bench` and the service's steady state do: a fresh set per
            // forward (runner.run) would time allocating and zeroing them too (~1 ms at W2) and add GC pauses
            outputs = runnerClass.getMethod("newOutputs", Map.class).invoke(runner, inputs);
            run = runnerClass.getMethod("runInto", Map.class, Map.class, cl.loadClass("io.freqfusion.backend.StageTimes"));
        }

        double forwardMs() throws Exception {
            long t0 = System.nanoTime();
            run.invoke(runner, inputs, outputs, null);
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    public static void main(String[] a) throws Exception {
        if (a.length != 8) {
            System.err.println("usage: AbForward LIB_CLASSPATH CLASSES_A CLASSES_B WORKLOAD CONFIG ROUNDS PER_ROUND THREADS");
            System.exit(2);
        }
        String libs = a[0], workload = a[3], config = a[4];
        int rounds = Integer.parseInt(a[5]), per = Integer.parseInt(a[6]), threads = Integer.parseInt(a[7]);
        Side sideA = new Side(a[1], libs, workload, config, threads), sideB = new Side(a[2], libs, workload, config, threads);
        AbHarness.alternate(workload + " " + config + ", " + threads + " threads", sideA::forwardMs, sideB::forwardMs, 8_000,
                rounds, per, true);
        System.exit(0);
    }
}
