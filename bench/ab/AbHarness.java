import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the A/B drivers (AbForward, AbKernel) share: a class loader per build, and the alternating rounds. On this VM
 * the same binary moves 20-50 % within an hour and separate processes land in different phases, so both builds run in
 * one JVM, in blocks that alternate (the order flipping every round), and the per-round ratio B/A is the figure.
 */
final class AbHarness {
    private AbHarness() {}

    /** One build's timed operation: runs it once and returns its wall time in ms. */
    @FunctionalInterface
    interface Timed {
        double ms() throws Exception;
    }

    /** A loader of one build's classes (CLASSES folder) and the shared libraries, apart from every other build. */
    static ClassLoader loader(String classes, String libs) throws Exception {
        List<URL> urls = new ArrayList<>();
        urls.add(Paths.get(classes).toUri().toURL());
        for (String jar : libs.split(":")) if (!jar.isEmpty()) urls.add(Paths.get(jar).toUri().toURL());
        return new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader());
    }

    /** Runs both for warmMillis (JIT-compiled before timing), then prints each round (if asked) and the summary. */
    static void alternate(String label, Timed a, Timed b, long warmMillis, int rounds, int per, boolean printRounds) throws Exception {
        long warmUntil = System.nanoTime() + warmMillis * 1_000_000L;
        while (System.nanoTime() < warmUntil) {
            a.ms();
            b.ms();
        }
        double[] medA = new double[rounds], medB = new double[rounds], ratio = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < 2; k++) {
                boolean isA = (k + r) % 2 == 0;
                Timed side = isA ? a : b;
                double[] t = new double[per];
                side.ms();                                          // caches warm for this side, as in a service
                for (int i = 0; i < per; i++) t[i] = side.ms();
                Arrays.sort(t);
                (isA ? medA : medB)[r] = t[per / 2];
            }
            ratio[r] = medB[r] / medA[r];
            if (printRounds) System.out.printf("round %2d: A %8.3f ms  B %8.3f ms  B/A %.3f%n", r, medA[r], medB[r], ratio[r]);
        }
        Arrays.sort(medA);
        Arrays.sort(medB);
        Arrays.sort(ratio);
        System.out.printf("%s: median A %.3f ms, B %.3f ms; median round ratio B/A %.3f (min %.3f, max %.3f)%n",
                label, medA[rounds / 2], medB[rounds / 2], ratio[rounds / 2], ratio[0], ratio[rounds - 1]);
    }
}
