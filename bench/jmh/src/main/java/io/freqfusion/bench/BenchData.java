package io.freqfusion.bench;

import java.util.SplittableRandom;

/** Shapes (workload W2 of spec section 9) and deterministic random data for the kernel benchmarks. */
final class BenchData {
    private BenchData() {}

    /** W2: B = 1, C_hr = C_lr = 256, hr 64x64, lr 32x32, compressed C_c = 64; default kernels k_enc 3, k_l 5, k_h 3. */
    static final int B = 1, C = 256, H = 64, W = 64, h = 32, w = 32, CC = 64;
    static final int K_ENC = 3, K_LOW = 5, K_HIGH = 3;
    static final int TAPS_LOW = K_LOW * K_LOW, TAPS_HIGH = K_HIGH * K_HIGH;
    /** Paper configuration's sampler: C_c + 8 channels, 4 offset groups, GroupNorm over C_c / 8 groups. */
    static final int SAMPLER_GROUPS = 4, CS = CC + 8, GN_GROUPS = CC / 8;

    /** Standard normal values times scale (never exactly zero). */
    static float[] normal(int n, float scale, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            double u1 = 1.0 - rng.nextDouble(), u2 = rng.nextDouble();
            float v = (float) (Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)) * scale;
            a[i] = v == 0f ? 1e-3f : v;
        }
        return a;
    }

    /** Conv weights (co, ci, k, k) at PyTorch-default-like scale 1/sqrt(fan_in). */
    static float[] convWeight(int co, int ci, int k, long seed) {
        return normal(co * ci * k * k, (float) (1.0 / Math.sqrt(ci * k * k)), seed);
    }

    /** Per-pixel normalised reassembly kernels (B, taps, n): positive, summing to 1 over the taps. */
    static float[] softmaxKernels(int taps, int n, long seed) {
        float[] z = normal(taps * n, 1f, seed);
        for (int p = 0; p < n; p++) {
            float s = 0;
            for (int t = 0; t < taps; t++) s += z[t * n + p] = (float) Math.exp(z[t * n + p]);
            for (int t = 0; t < taps; t++) z[t * n + p] /= s;
        }
        return z;
    }

    /** The symmetric Hamming window outer product (taps entries), as the default normaliser uses. */
    static float[] hamming2d(int k) {
        // np.hamming(k + 2)[1:-1] style 1-D window, outer product; exact values do not matter for speed
        double[] h1 = new double[k];
        for (int i = 0; i < k; i++) h1[i] = 0.54 - 0.46 * Math.cos(2 * Math.PI * (i + 1) / (k + 1));
        float[] out = new float[k * k];
        for (int i = 0; i < k; i++) for (int j = 0; j < k; j++) out[i * k + j] = (float) (h1[i] * h1[j]);
        return out;
    }
}
