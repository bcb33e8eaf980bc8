import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
            List<URL> urls = new ArrayList<>();
            urls.add(Paths.get(classes).toUri().toURL());
            for (String jar : libs.split(":")) if (!jar.isEmpty()) urls.add(Paths.get(jar).toUri().toURL());
            ClassLoader cl = new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader());
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
        long warmUntil = System.nanoTime() + 8_000_000_000L;      // both sides JIT-compiled before timing
        while (System.nanoTime() < warmUntil) {
            sideA.forwardMs();
            sideB.forwardMs();
        }
        double[] medA = new double[rounds], medB = new double[rounds], ratio = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < 2; k++) {
                boolean isA = (k + r) % 2 == 0;
                Side side = isA ? sideA : sideB;
                double[] t = new double[per];
                side.forwardMs();                                   // caches warm for this side, as in a service
                for (int i = 0; i < per; i++) t[i] = side.forwardMs();
                Arrays.sort(t);
                (isA ? medA : medB)[r] = t[per / 2];
            }
            ratio[r] = medB[r] / medA[r];
            System.out.printf("round %2d: A %8.3f ms  B %8.3f ms  B/A %.3f%n", r, medA[r], medB[r], ratio[r]);
        }
        Arrays.sort(medA);
        Arrays.sort(medB);
        Arrays.sort(ratio);
        System.out.printf("%s %s, %d threads: median A %.3f ms, B %.3f ms; median round ratio B/A %.3f (min %.3f, max %.3f)%n",
                workload, config, threads, medA[rounds / 2], medB[rounds / 2], ratio[rounds / 2], ratio[0], ratio[rounds - 1]);
        System.exit(0);
    }
}
