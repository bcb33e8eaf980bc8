import java.lang.reflect.Method;
import java.util.SplittableRandom;

/**
 * One CPU kernel of two builds of FreqFusion Serve in one JVM (each build in its own class loader, with its own
 * thread pool and buffers): blocks of calls alternate between them, the order flipping every round, and the per-round
 * ratio B/A is printed. First both builds run the kernel once on the same inputs and their outputs are compared bit for
 * bit, so a change meant to keep the values can be checked in the same run. Kernels (C = 256, C_c = 64, HR size from
 * the workload: W2 64², W3 128²):
 *
 * <ul>
 *   <li>{@code carafe-lr}: CARAFE(X_l, K_l, 5, s = 2), X_l (1, 256, HR/2, HR/2)</li>
 *   <li>{@code carafe-hr}: 2 X_h - CARAFE(X_h, K_h, 3, s = 1), X_h (1, 256, HR, HR)</li>
 *   <li>{@code normalise}: the 25-tap kernel normaliser into the pair-packed layout at HR</li>
 *   <li>{@code compress}: the 1x1 compressor 256 -> 64 at HR</li>
 *   <li>{@code encode}: the 3x3 encoder 64 -> 25 at HR (Winograd)</li>
 * </ul>
 *
 * <p>Usage: java AbKernel LIB_CLASSPATH CLASSES_A CLASSES_B KERNEL WORKLOAD ROUNDS PER_ROUND THREADS
 */
public final class AbKernel {
    private static final int C = 256, CC = 64, TAPS_LOW = 25, TAPS_HIGH = 9;

    /** One build: its class loader's kernel entry point, bound to this side's own arrays. */
    private static final class Side {
        private final Object par;
        private final Method method;
        private final Object[] args;
        /** Restored before every call where the kernel writes its input (the normaliser works in place). */
        private final float[] input, inputCopy;
        final float[] out;

        Side(String classes, String libs, String kernel, int hr, int threads) throws Exception {
            ClassLoader cl = AbHarness.loader(classes, libs);
            Class<?> parClass = cl.loadClass("io.freqfusion.backend.cpu.Parallel");
            Class<?> kernels = cl.loadClass("io.freqfusion.backend.cpu.CpuKernels");
            Class<?> weights = cl.loadClass("io.freqfusion.backend.cpu.ConvWeights");
            par = parClass.getConstructor(int.class).newInstance(threads);
            Method packedSize = kernels.getMethod("packedKernelSize", int.class, int.class, int.class, int.class);
            int lr = hr / 2, plane = hr * hr;
            float[] in = null;
            switch (kernel) {
                case "carafe-lr", "carafe-hr" -> {
                    boolean low = kernel.equals("carafe-lr");
                    int taps = low ? TAPS_LOW : TAPS_HIGH, side = low ? lr : hr;
                    float[] x = random(C * side * side, 1, 0f);
                    float[] kp = random((int) packedSize.invoke(null, 1, taps, hr, hr), 2, 1f / taps);
                    out = new float[C * plane];
                    method = kernels.getMethod("carafe", parClass, float[].class, int.class, int.class, int.class, int.class,
                            float[].class, int.class, int.class, float[].class, float.class, float.class, float[].class);
                    args = low ? new Object[] {par, x, 1, C, lr, lr, kp, 5, 2, null, 0f, 1f, out}
                            : new Object[] {par, x, 1, C, hr, hr, kp, 3, 1, x, 2f, -1f, out};
                }
                case "normalise" -> {
                    in = random(TAPS_LOW * plane, 3, 0f);
                    float[] hamming = new float[TAPS_LOW];
                    for (int t = 0; t < TAPS_LOW; t++) hamming[t] = 0.5f + 0.02f * t;
                    out = new float[(int) packedSize.invoke(null, 1, TAPS_LOW, hr, hr)];
                    method = kernels.getMethod("normalisePacked", parClass, float[].class, int.class, int.class, int.class,
                            int.class, float[].class, float[].class, float[].class);
                    args = new Object[] {par, in, 1, TAPS_LOW, hr, hr, hamming, null, out};
                }
                case "compress", "encode" -> {
                    boolean oneByOne = kernel.equals("compress");
                    int ci = oneByOne ? C : CC, co = oneByOne ? CC : TAPS_LOW, k = oneByOne ? 1 : 3;
                    Object cw = weights.getMethod("pack", float[].class, float[].class, int.class, int.class, int.class)
                            .invoke(null, random(co * ci * k * k, 4, 0f), random(co, 5, 0f), co, ci, k);
                    Method scratchSize = kernels.getMethod("convScratch", int.class, int.class, int.class, int.class, int.class, int.class);
                    float[] scratch = new float[(int) scratchSize.invoke(null, 1, ci, hr, hr, k, k / 2)];
                    out = new float[co * plane];
                    method = kernels.getMethod("conv2d", parClass, float[].class, int.class, int.class, int.class, weights,
                            int.class, int.class, float[].class, float[].class);
                    args = new Object[] {par, random(ci * plane, 6, 0f), 1, hr, hr, cw, 1, k / 2, out, scratch};
                }
                default -> throw new IllegalArgumentException("unknown kernel " + kernel
                        + " (carafe-lr, carafe-hr, normalise, compress, encode)");
            }
            input = in;
            inputCopy = in == null ? null : in.clone();
        }

        double callMs() throws Exception {
            if (input != null) System.arraycopy(inputCopy, 0, input, 0, input.length);
            long t0 = System.nanoTime();
            method.invoke(null, args);
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    /** n standard normal values, or with positiveScale > 0 uniform ones in [0, 2 positiveScale) (CARAFE kernel weights). */
    private static float[] random(int n, long seed, float positiveScale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = positiveScale > 0 ? (float) (r.nextDouble() * 2 * positiveScale) : (float) r.nextGaussian();
        return a;
    }

    public static void main(String[] a) throws Exception {
        if (a.length != 8) {
            System.err.println("usage: AbKernel LIB_CLASSPATH CLASSES_A CLASSES_B KERNEL WORKLOAD ROUNDS PER_ROUND THREADS");
            System.exit(2);
        }
        String kernel = a[3], workload = a[4];
        int hr = switch (workload) {
            case "W2" -> 64;
            case "W3" -> 128;
            default -> throw new IllegalArgumentException("workload W2 or W3, got " + workload);
        };
        int rounds = Integer.parseInt(a[5]), per = Integer.parseInt(a[6]), threads = Integer.parseInt(a[7]);
        Side sideA = new Side(a[1], a[0], kernel, hr, threads), sideB = new Side(a[2], a[0], kernel, hr, threads);
        for (long until = System.nanoTime() + 6_000_000_000L; System.nanoTime() < until; ) {   // both builds compiled
            sideA.callMs();
            sideB.callMs();
        }
        boolean same = true;
        for (int i = 0; i < sideA.out.length; i++) {
            if (Float.floatToRawIntBits(sideA.out[i]) != Float.floatToRawIntBits(sideB.out[i])) {
                same = false;
                break;
            }
        }
        System.out.println(kernel + " " + workload + ": outputs of A and B " + (same ? "identical bit for bit" : "DIFFER"));
        AbHarness.alternate(kernel + " " + workload + ", " + threads + " threads", sideA::callMs, sideB::callMs, 0, rounds, per, false);
        System.exit(0);
    }
}
