package io.freqfusion.backend.cpu;

import io.freqfusion.model.FreqFusionWeights;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Each primitive on a small case worked out by hand (spec section 2). */
class CpuKernelsTest {
    private static final Parallel PAR = new Parallel(2);
    private static final float EPS = 1e-6f;

    @AfterAll
    static void close() { PAR.close(); }

    private static float[] fill(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    /** CARAFE of one batch item with the kernel K (k^2, s h, s w) in the plain layout: packs it, then reassembles. */
    private static void carafe(float[] x, int C, int h, int w, float[] K, int k, int s,
                               float[] self, float selfScale, float carafeScale, float[] out) {
        float[] packed = new float[CpuKernels.packedKernelSize(1, k * k, s * h, s * w)];
        CpuKernels.packKernel(PAR, K, 1, k * k, s * h, s * w, packed);
        CpuKernels.carafe(PAR, x, 1, C, h, w, packed, k, s, self, selfScale, carafeScale, out);
    }

    @Test
    void carafeDropsOutOfImageTapsWithoutRenormalising() {
        // 3x3 image of ones, uniform 3x3 kernel 1/9: corners see 4 taps, edges 6, the centre 9.
        float[] x = fill(9, 1f), k = fill(9 * 9, 1f / 9), out = new float[9];
        carafe(x, 1, 3, 3, k, 3, 1, null, 0f, 1f, out);
        assertArrayEquals(new float[] {4f / 9, 6f / 9, 4f / 9, 6f / 9, 1f, 6f / 9, 4f / 9, 6f / 9, 4f / 9}, out, EPS);
    }

    @Test
    void carafeUpsamplesByTwoFromTheSourcePixelYOver2() {
        // 1x2 source [2, 5]; output 2x4; taps (ky, kx) hit source (Y/2 + ky - 1, X/2 + kx - 1).
        float[] x = {2f, 5f};
        float[] k = new float[9 * 8];
        for (int p = 0; p < 8; p++) k[5 * 8 + p] = 1f;        // only tap (1, 2): source x = X/2 + 1
        float[] out = new float[8];
        carafe(x, 1, 1, 2, k, 3, 2, null, 0f, 1f, out);
        assertArrayEquals(new float[] {5f, 5f, 0f, 0f, 5f, 5f, 0f, 0f}, out, EPS);
    }

    /** CARAFE straight from spec 2.3 (mmcv: taps outside the source image dropped), in double. */
    private static float[] carafeByDefinition(float[] x, int C, int h, int w, float[] K, int k, int s,
                                              float[] self, float selfScale, float carafeScale) {
        int H = h * s, W = w * s, r = (k - 1) / 2;
        float[] out = new float[C * H * W];
        for (int c = 0; c < C; c++) {
            for (int Y = 0; Y < H; Y++) {
                for (int X = 0; X < W; X++) {
                    double acc = 0;
                    for (int ky = 0; ky < k; ky++) {
                        for (int kx = 0; kx < k; kx++) {
                            int sy = Y / s + ky - r, sx = X / s + kx - r;
                            if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
                            acc += (double) K[((ky * k + kx) * H + Y) * W + X] * x[(c * h + sy) * w + sx];
                        }
                    }
                    int o = (c * H + Y) * W + X;
                    out[o] = (float) ((self == null ? 0 : selfScale * self[o]) + carafeScale * acc);
                }
            }
        }
        return out;
    }

    @Test
    void carafeMatchesTheDefinitionOnOddShapesChannelTailsAndBothScales() {
        java.util.Random rnd = new java.util.Random(11);
        // (C, h, w, k, s): channel counts off the 4-block, widths off and on the vector length (whole-vector rows are
        // finished inside the tiles, the rest by a second pass), odd heights (s = 1 pairs rows), and outputs wider than
        // one column strip (128 output columns for k = 3 and 5, 120 for k = 7 with s = 2): whole and partial last strips;
        // and a kernel wider than the fixed ring row (k = 67, s = 2).
        int[][] cases = {{5, 3, 7, 3, 1}, {9, 7, 13, 5, 1}, {4, 1, 1, 3, 1}, {8, 6, 19, 1, 1}, {3, 2, 9, 7, 1},
                {6, 5, 7, 5, 2}, {25, 4, 11, 5, 2}, {4, 1, 1, 3, 2}, {13, 3, 17, 7, 2}, {1, 9, 2, 3, 2},
                {8, 3, 5, 5, 2}, {9, 2, 9, 5, 2}, {11, 3, 6, 5, 2}, {16, 2, 12, 5, 2}, {8, 5, 16, 3, 1}, {5, 4, 8, 5, 1},
                {6, 3, 8, 3, 2}, {8, 4, 136, 3, 1}, {5, 3, 150, 3, 1}, {4, 2, 264, 3, 1}, {3, 5, 130, 1, 1},
                {4, 2, 72, 5, 2}, {8, 3, 70, 5, 2}, {6, 3, 75, 7, 2}, {7, 2, 129, 5, 1}, {5, 2, 3, 67, 2}};
        for (int[] cs : cases) {
            int C = cs[0], h = cs[1], w = cs[2], k = cs[3], s = cs[4], H = h * s, W = w * s;
            float[] x = new float[C * h * w], K = new float[k * k * H * W], self = new float[C * H * W];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < K.length; i++) K[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < self.length; i++) self[i] = (float) rnd.nextGaussian();
            String what = java.util.Arrays.toString(cs);
            float[] out = new float[C * H * W];
            carafe(x, C, h, w, K, k, s, null, 0f, 1f, out);
            assertArrayEquals(carafeByDefinition(x, C, h, w, K, k, s, null, 0f, 1f), out, 1e-4f, what);
            carafe(x, C, h, w, K, k, s, self, 2f, -1f, out);
            assertArrayEquals(carafeByDefinition(x, C, h, w, K, k, s, self, 2f, -1f), out, 1e-4f, what + " residual");
            if (s == 1) {   // the forward's residual form 2 X - CARAFE(X): self is the input (read from the ring)
                carafe(x, C, h, w, K, k, s, x, 2f, -1f, out);
                assertArrayEquals(carafeByDefinition(x, C, h, w, K, k, s, x, 2f, -1f), out, 1e-4f, what + " 2x - carafe(x)");
            }
        }
    }

    @Test
    void carafeResidualFormIsSelfScaleMinusReassembly() {
        float[] x = {1f, 2f, 3f, 4f};
        float[] k = new float[9 * 4];
        for (int p = 0; p < 4; p++) k[4 * 4 + p] = 1f;        // identity kernel (centre tap)
        float[] out = new float[4];
        carafe(x, 1, 2, 2, k, 3, 1, x, 2f, -1f, out);   // 2x - x = x
        assertArrayEquals(x, out, EPS);
    }

    @Test
    void normaliserWithZeroLogitsIsTheNormalisedHammingWindow() {
        float[] hw = new float[9];
        double[] a = FreqFusionWeights.hamming(3);           // [0.08, 1, 0.08]
        for (int i = 0; i < 9; i++) hw[i] = (float) (a[i / 3] * a[i % 3]);
        float[] z = new float[9 * 2], out = new float[9 * 2];
        CpuKernels.normalise(PAR, z, 1, 9, 2, hw, out);
        double sum = 1 + 4 * 0.08 + 4 * 0.0064;
        assertEquals(1 / sum, out[4 * 2], 1e-6);
        assertEquals(0.08 / sum, out[1 * 2 + 1], 1e-6);
        assertEquals(0.0064 / sum, out[0], 1e-6);
    }

    @Test
    void normaliserWithoutWindowIsSoftmax() {
        float[] z = {0f, (float) Math.log(3)}, out = new float[2];
        CpuKernels.normalise(PAR, z, 1, 2, 1, new float[] {1f}, out);
        assertArrayEquals(new float[] {0.25f, 0.75f}, out, EPS);
    }

    @Test
    void normaliserMatchesADoubleSoftmaxOverTheWholeExpRange() {
        // logits spread over ~100 so that exp(z - max) covers 2^0 .. 2^-126 (every exponent the vector exp builds
        // from bits) and the clamp below e^-87.33; relative accuracy 1e-5 where the weight is a normal float
        java.util.Random rnd = new java.util.Random(3);
        int taps = 25, n = 77;
        float[] z = new float[taps * n], out = new float[taps * n];
        for (int i = 0; i < z.length; i++) z[i] = (float) (rnd.nextDouble() * 100 - 90);
        for (int p = 0; p < n; p += 7) z[(p % taps) * n + p] = -200f;      // far below the clamp
        float[] hamming = new float[taps];
        for (int t = 0; t < taps; t++) hamming[t] = 0.08f + 0.9f * t / taps;
        CpuKernels.normalise(PAR, z, 1, taps, n, hamming, out);
        for (int p = 0; p < n; p++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int t = 0; t < taps; t++) max = Math.max(max, z[t * n + p]);
            for (int t = 0; t < taps; t++) sum += Math.exp(z[t * n + p] - max) * hamming[t];
            for (int t = 0; t < taps; t++) {
                double want = Math.exp(z[t * n + p] - max) * hamming[t] / sum;
                assertEquals(want, out[t * n + p], 1e-5 * want + 1e-37, "pixel " + p + " tap " + t);
            }
        }
    }

    @Test
    void hammingMatchesNumpy() {
        assertArrayEquals(new double[] {0.08, 0.54, 1, 0.54, 0.08}, FreqFusionWeights.hamming(5), 1e-12);
    }

    /** The similarities' neighbour offsets, in their channel order. */
    private static final int[] LCS_DY = {-2, -2, -2, 0, 0, 2, 2, 2}, LCS_DX = {-2, 0, 2, -2, 2, -2, 0, 2};

    /** A (B, C + 8, n) similarity buffer: C channels of Gaussian values, about one pixel in zeroEvery zero, 8 empty. */
    private static float[] lcsInput(java.util.Random rnd, int B, int C, int n, int zeroEvery) {
        float[] buf = new float[B * (C + 8) * n];
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < C * n; i++) buf[b * (C + 8) * n + i] = rnd.nextInt(zeroEvery) == 0 ? 0f : (float) rnd.nextGaussian();
        }
        return buf;
    }

    @Test
    void localCosineSimilarityMatchesTheDefinition() {
        // sizes off the vector width and below the dilation, batch 2; zero pixels (norm clamped to 1e-8) included
        int[][] cases = {{2, 5, 7, 19}, {1, 3, 2, 3}, {1, 64, 9, 16}, {1, 4, 5, 1}};
        java.util.Random rnd = new java.util.Random(11);
        for (int[] cs : cases) {
            int B = cs[0], C = cs[1], H = cs[2], W = cs[3], n = H * W;
            float[] buf = lcsInput(rnd, B, C, n, 7);
            float[] in = buf.clone();
            CpuKernels.localCosineSimilarity(PAR, buf, B, C, H, W, new float[B * n]);
            for (int b = 0; b < B; b++) for (int o = 0; o < 8; o++) for (int y = 0; y < H; y++) for (int x = 0; x < W; x++) {
                int ny = y + LCS_DY[o], nx = x + LCS_DX[o], base = b * (C + 8) * n;
                double want = 0;
                if (ny >= 0 && ny < H && nx >= 0 && nx < W) {
                    double dot = 0, na = 0, nb = 0;
                    for (int c = 0; c < C; c++) {
                        double a = in[base + c * n + y * W + x], v = in[base + c * n + ny * W + nx];
                        dot += a * v;
                        na += a * a;
                        nb += v * v;
                    }
                    want = dot / Math.max(Math.sqrt(na), 1e-8) / Math.max(Math.sqrt(nb), 1e-8);
                }
                float got = buf[base + (C + o) * n + y * W + x];
                assertEquals(want, got, 1e-5, java.util.Arrays.toString(cs) + " b " + b + " o " + o + " at " + y + "," + x);
            }
            for (int b = 0; b < B; b++) {
                for (int i = 0; i < C * n; i++) assertEquals(in[b * (C + 8) * n + i], buf[b * (C + 8) * n + i], "input changed");
            }
        }
    }

    @Test
    void localCosineSimilarityTakesEachProductInChannelOrder() {
        // bit for bit the float arithmetic of the definition with zero padding: per neighbour a fused multiply-add chain
        // over the channels in order, then times the pixel's and the neighbour's inverse norms: widths on and off the
        // vector length, one row and several, batch 2, zero pixels, and an infinite value at the border (a neighbour
        // outside then makes NaN, as 0 x inf does). A faster form must keep this (one that took each product once for
        // a pixel and its mirror neighbour was, and was not faster: bench/PERFORMANCE.md)
        int[][] cases = {{2, 5, 7, 19}, {1, 6, 9, 2 * VectorKernels.L}, {2, 3, 1, VectorKernels.L + 5}, {1, 70, 6, 40}};
        java.util.Random rnd = new java.util.Random(29);
        for (int[] cs : cases) {
            int B = cs[0], C = cs[1], H = cs[2], W = cs[3], n = H * W;
            float[] buf = lcsInput(rnd, B, C, n, 9);
            buf[W - 1] = Float.POSITIVE_INFINITY;                   // batch 0, channel 0, the first row's last pixel
            float[] in = buf.clone(), inv = new float[B * n];
            CpuKernels.localCosineSimilarity(PAR, buf, B, C, H, W, inv);
            for (int b = 0; b < B; b++) for (int o = 0; o < 8; o++) for (int y = 0; y < H; y++) for (int x = 0; x < W; x++) {
                int ny = y + LCS_DY[o], nx = x + LCS_DX[o], base = b * (C + 8) * n;
                boolean inside = ny >= 0 && ny < H && nx >= 0 && nx < W;
                float d = 0f;
                for (int c = 0; c < C; c++) d = Math.fma(in[base + c * n + y * W + x], inside ? in[base + c * n + ny * W + nx] : 0f, d);
                float want = d * inv[b * n + y * W + x] * (inside ? inv[b * n + ny * W + nx] : 0f);
                assertEquals(want, buf[base + (C + o) * n + y * W + x], 0f, java.util.Arrays.toString(cs) + " b " + b + " o " + o + " at " + y + "," + x);
            }
        }
    }

    @Test
    void localCosineSimilarityUsesDilationTwoAndZeroOutside() {
        // C = 2, 3x3; buffer has 2 + 8 channels. Vectors: (0,0) = (1,0); (0,2) = (0,1); (2,0) = (1,1); (2,2) = 0.
        int n = 9;
        float[] buf = new float[10 * n];
        buf[0] = 1f;                          // c0 at (0,0)
        buf[n + 2] = 1f;                      // c1 at (0,2)
        buf[6] = 1f;
        buf[n + 6] = 1f;                      // (2,0) = (1,1)
        CpuKernels.localCosineSimilarity(PAR, buf, 1, 2, 3, 3, new float[n]);
        int off02 = 4, off20 = 6, off22 = 7;  // offsets (0,2), (2,0), (2,2) in row-major order
        assertEquals(0f, buf[(2 + off02) * n], EPS);                       // (1,0).(0,1)
        assertEquals((float) (1 / Math.sqrt(2)), buf[(2 + off20) * n], EPS); // (1,0).(1,1)/sqrt2
        assertEquals(0f, buf[(2 + off22) * n], EPS);                       // zero vector neighbour
        assertEquals(0f, buf[(2 + 0) * n], EPS);                           // (-2,-2): outside
        assertEquals((float) (1 / Math.sqrt(2)), buf[(2 + 1) * n + 6], EPS); // at (2,0), offset (-2,0) -> (0,0)
    }

    @Test
    void conv2dMatchesTheDefinitionForEveryOutputBlockShape() {
        java.util.Random rnd = new java.util.Random(5);
        // (B, ci, co, h, w, k, dil, pad): co covers the 4/1 output blocks, widths off the 16-pixel strip; 3x3 pad-1
        // dilation-1 cases run as Winograd F(4x2, 3x3): heights off the 4-row block (1, 2, 3, 5, 6, 7, 9), odd widths and
        // widths off the 32-column strip (2, 3, 9, 15, 19, 40, 48), batch 2, a 1x1 and a 1x2 image.
        int[][] cases = {{1, 3, 25, 5, 19, 3, 1, 1}, {2, 7, 9, 4, 17, 3, 2, 2}, {1, 5, 34, 3, 3, 3, 1, 1}, {1, 4, 3, 6, 33, 5, 1, 2},
                {1, 9, 64, 2, 21, 1, 1, 0}, {2, 6, 7, 3, 5, 1, 1, 0}, {1, 2, 1, 1, 1, 3, 1, 1}, {1, 16, 18, 4, 16, 1, 1, 0},
                {2, 8, 24, 7, 9, 3, 1, 1}, {1, 4, 30, 1, 2, 3, 1, 1}, {1, 72, 64, 6, 40, 3, 1, 1}, {1, 64, 9, 9, 32, 3, 1, 1},
                {2, 3, 2, 2, 48, 3, 1, 1}, {1, 11, 6, 8, 15, 3, 1, 1}};
        for (int[] cs : cases) {
            int B = cs[0], ci = cs[1], co = cs[2], h = cs[3], w = cs[4], k = cs[5], dil = cs[6], pad = cs[7];
            int ho = h + 2 * pad - dil * (k - 1), wo = w + 2 * pad - dil * (k - 1);
            float[] x = new float[B * ci * h * w], wt = new float[co * ci * k * k], bias = new float[co];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < wt.length; i++) wt[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < co; i++) bias[i] = (float) rnd.nextGaussian();
            float[] out = new float[B * co * ho * wo];
            double[] want = new double[out.length], magnitude = new double[out.length];
            for (int b = 0; b < B; b++) for (int o = 0; o < co; o++) for (int y = 0; y < ho; y++) for (int xx = 0; xx < wo; xx++) {
                double acc = bias[o], mag = Math.abs(bias[o]);
                for (int c = 0; c < ci; c++) for (int ky = 0; ky < k; ky++) for (int kx = 0; kx < k; kx++) {
                    int sy = y + ky * dil - pad, sx = xx + kx * dil - pad;
                    if (sy >= 0 && sy < h && sx >= 0 && sx < w) {
                        double term = (double) wt[((o * ci + c) * k + ky) * k + kx] * x[((b * ci + c) * h + sy) * w + sx];
                        acc += term;
                        mag += Math.abs(term);
                    }
                }
                int at = ((b * co + o) * ho + y) * wo + xx;
                want[at] = acc;
                magnitude[at] = mag;
            }
            CpuKernels.conv2d(PAR, x, B, ci, h, w, wt, bias, co, k, dil, pad, out, new float[CpuKernels.convScratch(B, ci, h, w, k, pad)]);
            // A float sum in another order (GEMM blocks, Winograd's transforms) is exact to a few ulps of the sum of
            // the terms' magnitudes, not of the result: 1e-6 of it is ~16 float ulps.
            for (int i = 0; i < out.length; i++) {
                double tol = 1e-5 + 1e-6 * magnitude[i];
                if (!(Math.abs(out[i] - want[i]) <= tol)) {
                    fail(java.util.Arrays.toString(cs) + " at " + i + ": " + out[i] + " vs " + want[i] + " (tolerance " + tol + ")");
                }
            }
        }
    }

    @Test
    void conv3x3SplitRoutesTheStackedOutputsToTwoTensors() {
        // E_L and E_H of P_l stacked (25 + 9 outputs): the split form must equal the stacked convolution's channels
        // exactly (same weights, same GEMM blocks; only where each output plane is stored differs), per batch item
        java.util.Random rnd = new java.util.Random(11);
        for (int[] cs : new int[][] {{2, 7, 5, 19}, {1, 64, 16, 16}, {3, 4, 1, 2}}) {
            int B = cs[0], ci = cs[1], h = cs[2], w = cs[3], co = 34, split = 25, n = h * w;
            float[] x = new float[B * ci * n], wt = new float[co * ci * 9], bias = new float[co];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < wt.length; i++) wt[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < co; i++) bias[i] = (float) rnd.nextGaussian();
            ConvWeights stacked = ConvWeights.pack(wt, bias, co, ci, 3);
            float[] scratch = new float[CpuKernels.convScratch(B, ci, h, w, 3, 1)];
            float[] all = new float[B * co * n], a = new float[B * split * n], b2 = new float[B * (co - split) * n];
            CpuKernels.conv2d(PAR, x, B, h, w, stacked, 1, 1, all, scratch);
            java.util.Arrays.fill(a, Float.NaN);
            java.util.Arrays.fill(b2, Float.NaN);
            CpuKernels.conv3x3Split(PAR, x, B, h, w, stacked, split, a, b2, scratch);
            for (int b = 0; b < B; b++) {
                assertArrayEquals(java.util.Arrays.copyOfRange(all, b * co * n, (b * co + split) * n),
                        java.util.Arrays.copyOfRange(a, b * split * n, (b + 1) * split * n), 0f, java.util.Arrays.toString(cs) + " first part, item " + b);
                assertArrayEquals(java.util.Arrays.copyOfRange(all, (b * co + split) * n, (b + 1) * co * n),
                        java.util.Arrays.copyOfRange(b2, b * (co - split) * n, (b + 1) * (co - split) * n), 0f, java.util.Arrays.toString(cs) + " second part, item " + b);
            }
        }
    }

    @Test
    void conv2dDilatedWithPadding() {
        // 1 channel 3x3 [1..9], 3x3 kernel of ones, dilation 2, padding 2: taps at y + 2 ky - 2.
        float[] x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w = fill(9, 1f), out = new float[9];
        CpuKernels.conv2d(PAR, x, 1, 1, 3, 3, w, new float[] {0.5f}, 1, 3, 2, 2, out, new float[CpuKernels.convScratch(1, 2, 3, 3, 3, 2)]);
        assertEquals(5 + 0.5f, out[4], EPS);               // (1,1): only the centre tap lands inside
        assertEquals(1 + 3 + 7 + 9 + 0.5f, out[0], EPS);   // (0,0): taps at (0,0), (0,2), (2,0), (2,2)
    }

    @Test
    void conv1x1IsAChannelMix() {
        float[] x = {1, 2, 10, 20};                     // 2 channels, 1x2
        float[] w = {1, 1, 2, -1};                      // out0 = c0 + c1, out1 = 2 c0 - c1
        float[] out = new float[4];
        CpuKernels.conv2d(PAR, x, 1, 2, 1, 2, w, new float[] {0, 1}, 2, 1, 1, 0, out, new float[CpuKernels.convScratch(1, 2, 3, 3, 3, 2)]);
        assertArrayEquals(new float[] {11, 22, -7, -15}, out, EPS);
    }

    @Test
    void nearestUsesFloat32RatioAndFloor() {
        float[] x = {1, 2, 3, 4}, out = new float[9];   // 2x2 -> 3x3: rows/cols 0, 0, 1
        CpuKernels.nearest(PAR, x, 1, 1, 2, 2, 3, 3, null, out);
        assertArrayEquals(new float[] {1, 1, 2, 1, 1, 2, 3, 3, 4}, out, EPS);
    }

    @Test
    void bilinearHalfPixelAndAlignCorners() {
        float[] x = {0, 1}, out = new float[4];
        CpuKernels.bilinear(PAR, x, 1, 1, 1, 2, 1, 4, false, out);
        assertArrayEquals(new float[] {0f, 0.25f, 0.75f, 1f}, out, EPS);
        float[] out3 = new float[3];
        CpuKernels.bilinear(PAR, x, 1, 1, 1, 2, 1, 3, true, out3);
        assertArrayEquals(new float[] {0f, 0.5f, 1f}, out3, EPS);
    }

    @Test
    void groupNormPerGroupBiasedVariance() {
        float[] x = {1, 2, 3, 4}, out = new float[4];   // one group of 2 channels x 2 pixels
        CpuKernels.groupNorm(PAR, x, 1, 2, 2, 1, new float[] {1, 2}, new float[] {0, 1}, out, 4);
        double s = Math.sqrt(1.25 + 1e-5);
        assertArrayEquals(new float[] {(float) (-1.5 / s), (float) (-0.5 / s), (float) (2 * 0.5 / s + 1), (float) (2 * 1.5 / s + 1)}, out, 1e-5f);
    }

    @Test
    void offsetCombinationPixelUnshufflesTheHrConvolution() {
        int g = 1, h = 1, w = 2;                        // hr conv: offsets (2 ch) then scales (2 ch) at 2x4
        float[] hrConv = new float[4 * 8];
        for (int i = 0; i < 16; i++) hrConv[i] = i;     // offsets; scales stay 0 -> sigmoid = 0.5
        float[] lrConv = new float[16 * 2], delta = new float[8 * 2], initPos = new float[8];
        CpuKernels.combineOffsets(PAR, lrConv, hrConv, initPos, 1, g, h, w, delta);
        // delta[q = c*4 + i*2 + j, 0, x] = 0.5 * hrOff[c, i, 2x + j]
        for (int c = 0; c < 2; c++) for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) for (int x = 0; x < 2; x++) {
            assertEquals(0.5f * hrConv[c * 8 + i * 4 + 2 * x + j], delta[(c * 4 + i * 2 + j) * 2 + x], EPS);
        }
        // the LR direct-scale half: a large scale saturates the sigmoid to 1
        java.util.Arrays.fill(lrConv, 16, 32, 50f);
        CpuKernels.combineOffsets(PAR, lrConv, hrConv, initPos, 1, g, h, w, delta);
        assertEquals(hrConv[1 * 8 + 1 * 4 + 2 + 1], delta[(1 * 4 + 1 * 2 + 1) * 2 + 1], EPS);
    }

    @Test
    void gridSampleAtInitialPositionsIsTheIdentityAndClampsAtTheBorder() {
        int h = 2, w = 2, H = 4, W = 4;
        float[] f = new float[H * W];
        for (int i = 0; i < f.length; i++) f[i] = i;
        float[] delta = new float[8 * h * w];
        float[] initPos = new float[8];
        for (int q = 0; q < 8; q++) {
            int a = q / 4, i = (q % 4) / 2, j = q % 2;
            initPos[q] = ((a == 0 ? j : i) == 0) ? -0.25f : 0.25f;
            for (int p = 0; p < h * w; p++) delta[q * h * w + p] = initPos[q];
        }
        float[] out = new float[H * W];
        CpuKernels.gridSampleBorder(PAR, f, delta, 1, 1, 1, h, w, out);
        assertArrayEquals(f, out, 1e-5f);
        // +0.25 LR pixel in x = +0.5 HR pixel: halfway to the right neighbour; clamped at the right border.
        for (int q = 0; q < 4; q++) for (int p = 0; p < h * w; p++) delta[q * h * w + p] += 0.25f;
        CpuKernels.gridSampleBorder(PAR, f, delta, 1, 1, 1, h, w, out);
        assertEquals(0.5f, out[0], 1e-5f);
        assertEquals(3f, out[3], 1e-5f);
    }

    @Test
    void gridSampleMatchesTheDefinitionForSmoothAndRandomOffsets() {
        java.util.Random rnd = new java.util.Random(9);
        int B = 2, G = 2, C = 6, h = 5, w = 12, H = 2 * h, W = 2 * w;
        float[] f = new float[B * C * H * W], delta = new float[B * 8 * G * h * w], out = new float[f.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) rnd.nextGaussian();
        for (int smooth = 0; smooth < 2; smooth++) {
            // smooth: one small shift per channel of delta (runs of consecutive samples, plain loads);
            // otherwise every offset random in (-1.5, 1.5) LR pixels (gathers, clamping at all borders)
            for (int q = 0; q < B * 8 * G; q++) {
                float shift = (float) rnd.nextGaussian() * 0.2f;
                for (int p = 0; p < h * w; p++) delta[q * h * w + p] = smooth == 1 ? shift : (rnd.nextFloat() * 3f - 1.5f);
            }
            CpuKernels.gridSampleBorder(PAR, f, delta, B, C, G, h, w, out);
            for (int b = 0; b < B; b++) for (int c = 0; c < C; c++) for (int Y = 0; Y < H; Y++) for (int X = 0; X < W; X++) {
                int g = c / (C / G), phase = g * 4 + (Y & 1) * 2 + (X & 1), y = Y >> 1, x = X >> 1;
                float dx = delta[((b * 8 * G + phase) * h + y) * w + x], dy = delta[((b * 8 * G + 4 * G + phase) * h + y) * w + x];
                double ix = Math.min(Math.max(2 * (x + 0.5 + dx) - 0.5, 0), W - 1), iy = Math.min(Math.max(2 * (y + 0.5 + dy) - 0.5, 0), H - 1);
                int x0 = (int) ix, y0 = (int) iy, x1 = Math.min(x0 + 1, W - 1), y1 = Math.min(y0 + 1, H - 1);
                double ax = ix - x0, ay = iy - y0;
                int pl = (b * C + c) * H * W;
                double want = (f[pl + y0 * W + x0] * (1 - ax) + f[pl + y0 * W + x1] * ax) * (1 - ay)
                        + (f[pl + y1 * W + x0] * (1 - ax) + f[pl + y1 * W + x1] * ax) * ay;
                assertEquals(want, out[pl + Y * W + X], 1e-4, "smooth=" + smooth + " b=" + b + " c=" + c + " Y=" + Y + " X=" + X);
            }
        }
    }

    @Test
    void residualFromTheRingEqualsTheResidualFromSelf() {
        // 2 X - CARAFE(X, K, 3, s=1): with self the source array itself the tile takes self from its ring rows; a copy
        // of X as self goes through the separate residual pass: the same values, bit for bit
        java.util.Random rnd = new java.util.Random(41);
        int B = 2, C = 8, H = 6, W = 16, n = H * W;
        float[] x = new float[B * C * n], K = new float[B * 9 * n];
        for (float[] a : new float[][] {x, K}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        float[] packed = new float[CpuKernels.packedKernelSize(B, 9, H, W)];
        CpuKernels.packKernel(PAR, K, B, 9, H, W, packed);
        float[] fromRing = new float[x.length], fromCopy = new float[x.length];
        CpuKernels.carafe(PAR, x, B, C, H, W, packed, 3, 1, x, 2f, -1f, fromRing);
        CpuKernels.carafe(PAR, x, B, C, H, W, packed, 3, 1, x.clone(), 2f, -1f, fromCopy);
        assertArrayEquals(fromCopy, fromRing, 0f);
        float[] plain = new float[x.length];
        CpuKernels.carafe(PAR, x, B, C, H, W, packed, 3, 1, null, 0f, 1f, plain);
        for (int i = 0; i < x.length; i++) assertEquals(2f * x[i] - plain[i], fromRing[i], 1e-5f * (1 + Math.abs(x[i])));
    }

    @Test
    void paddedCopiesWrittenByTheProducersGiveTheConvolutionsOwnCopysValues() {
        // the 3x3 encoders read a padded copy that the 1x1 compressor or the reassembly wrote as it went, instead of
        // making it themselves: same Winograd arithmetic on the same copy, so the same values bit for bit (batch 2,
        // rows not a multiple of the Winograd block, widths of one to three chunks, an image wider than one CARAFE strip)
        java.util.Random rnd = new java.util.Random(47);
        int B = 2, ci = 12, co = 10, chunk = 2 * VectorKernels.L;
        for (int[] hw : new int[][] {{5, chunk}, {8, 2 * chunk}, {3, 3 * chunk}, {4, 160 / chunk * chunk}}) {
            int h = hw[0], w = hw[1], n = h * w;
            assertTrue(CpuKernels.padsInProducer(w));
            float[] x = new float[B * ci * n], K = new float[B * 9 * n];
            for (float[] a : new float[][] {x, K}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
            float[] w1 = new float[co * ci], b1 = new float[co], w3 = new float[co * co * 9], b3 = new float[co];
            for (float[] a : new float[][] {w1, b1, w3, b3}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
            ConvWeights one = ConvWeights.pack(w1, b1, co, ci, 1), three = ConvWeights.pack(w3, b3, co, co, 3);
            float[] scratch = new float[CpuKernels.convScratch(B, co, h, w, 3, 1)];
            float[] padded = new float[CpuKernels.convScratch(B, co, h, w, 3, 1)];
            // 1x1, then 3x3: the conv's own copy against the compressor's
            float[] p = new float[B * co * n], p2 = new float[B * co * n], want = new float[B * co * n], got = new float[B * co * n];
            CpuKernels.conv2d(PAR, x, B, h, w, one, 1, 0, p, scratch);
            CpuKernels.conv2d(PAR, p, B, h, w, three, 1, 1, want, scratch);
            java.util.Arrays.fill(p2, Float.NaN);
            CpuKernels.conv1x1AndPad(PAR, x, B, h, w, one, p2, padded);
            CpuKernels.conv3x3Prepadded(PAR, padded, B, h, w, three, got, null, 0);
            assertArrayEquals(p, p2, 0f, "1x1 output, h=" + h + " w=" + w);
            assertArrayEquals(want, got, 0f, "after the 1x1, h=" + h + " w=" + w);
            // 2 P - CARAFE(P, K, 3), then 3x3, into the same padded buffer (its pads still zero)
            float[] packed = new float[CpuKernels.packedKernelSize(B, 9, h, w)];
            CpuKernels.packKernel(PAR, K, B, 9, h, w, packed);
            float[] r = new float[B * co * n], r2 = new float[B * co * n];
            CpuKernels.carafeOfIntermediate(PAR, p, B, co, h, w, packed, 3, 1, p, 2f, -1f, r);
            CpuKernels.conv2d(PAR, r, B, h, w, three, 1, 1, want, scratch);
            CpuKernels.carafeOfIntermediate(PAR, p, B, co, h, w, packed, 3, 1, p, 2f, -1f, r2, padded);
            CpuKernels.conv3x3Prepadded(PAR, padded, B, h, w, three, got, null, 0);
            assertArrayEquals(r, r2, 0f, "reassembly, h=" + h + " w=" + w);
            assertArrayEquals(want, got, 0f, "after the reassembly, h=" + h + " w=" + w);
            // the reassembly writing only the copy (no out), into a buffer whose pads the first conv's own copy pass
            // wrote (as the forward does where the compressor does not write the copy): every float starts as NaN
            float[] own = new float[padded.length], first = new float[B * co * n], got2 = new float[B * co * n];
            java.util.Arrays.fill(own, Float.NaN);
            CpuKernels.conv2d(PAR, p, B, h, w, three, 1, 1, first, own);
            CpuKernels.carafeOfIntermediate(PAR, p, B, co, h, w, packed, 3, 1, p, 2f, -1f, null, own);
            CpuKernels.conv3x3Prepadded(PAR, own, B, h, w, three, got2, null, 0);
            assertArrayEquals(want, got2, 0f, "after a reassembly without out, h=" + h + " w=" + w);
        }
        assertFalse(CpuKernels.padsInProducer(chunk + 2));
        assertThrows(IllegalArgumentException.class, () -> CpuKernels.conv1x1AndPad(PAR, new float[4 * (chunk + 2)], 1, 1, chunk + 2,
                ConvWeights.pack(new float[16], new float[4], 4, 4, 1), new float[4 * (chunk + 2)], new float[CpuKernels.convScratch(1, 4, 1, chunk + 2, 3, 1)]));
    }

    @Test
    void samplerInputInOneRowPassGivesGroupNormSimilarityAndConvolutionValues() {
        // GroupNorm, the norms and the conv's padded copy by one pass over rows, the similarities writing their rows'
        // copies: the same values as groupNorm, localCosineSimilarity and the conv's own copy pass, bit for bit. The
        // padded buffer starts as NaN (every value the conv reads must be written) and then holds another
        // geometry's copy (the forward's hr then lr convs share it); batch 2, rows not a multiple of the Winograd
        // block, groups of 4 and 8 channels, inputs with zeros and a large offset (GroupNorm's centring)
        java.util.Random rnd = new java.util.Random(53);
        int B = 2, C = 16, co = 12, L = VectorKernels.L;
        float[] padded = new float[CpuKernels.convScratch(B, C + 8, 7, 3 * L, 3, 1) + CpuKernels.convScratch(B, C + 8, 6, L, 3, 1)];
        java.util.Arrays.fill(padded, Float.NaN);
        for (int[] hwg : new int[][] {{7, 3 * L, 4}, {6, L, 2}, {5, 2 * L, 4}}) {
            int H = hwg[0], W = hwg[1], groups = hwg[2], n = H * W;
            assertTrue(CpuKernels.samplerRowsFit(W));
            float[] x = new float[B * C * n], gamma = new float[C], beta = new float[C];
            for (int i = 0; i < x.length; i++) x[i] = rnd.nextInt(9) == 0 ? 0f : 3f + (float) rnd.nextGaussian();
            for (int c = 0; c < C; c++) {
                gamma[c] = 0.5f + rnd.nextFloat();
                beta[c] = (float) rnd.nextGaussian();
            }
            float[] wts = new float[co * (C + 8) * 9], bias = new float[co];
            for (float[] a : new float[][] {wts, bias}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
            ConvWeights conv = ConvWeights.pack(wts, bias, co, C + 8, 3);
            float[] buf = new float[B * (C + 8) * n], inv = new float[B * n], want = new float[B * co * n];
            CpuKernels.groupNorm(PAR, x, B, C, n, groups, gamma, beta, buf, (C + 8) * n);
            CpuKernels.localCosineSimilarity(PAR, buf, B, C, H, W, inv);
            CpuKernels.conv2d(PAR, buf, B, H, W, conv, 1, 1, want, new float[CpuKernels.convScratch(B, C + 8, H, W, 3, 1)]);
            float[] buf2 = new float[buf.length], inv2 = new float[inv.length], got = new float[want.length];
            CpuKernels.samplerInputPadded(PAR, x, B, C, H, W, groups, gamma, beta, buf2, inv2, padded);
            CpuKernels.conv3x3Prepadded(PAR, padded, B, H, W, conv, got, null, 0);
            assertArrayEquals(buf, buf2, 0f, "normalised features and similarities, H=" + H + " W=" + W);
            assertArrayEquals(inv, inv2, 0f, "inverse norms, H=" + H + " W=" + W);
            assertArrayEquals(want, got, 0f, "sampler conv, H=" + H + " W=" + W);
        }
        assertFalse(CpuKernels.samplerRowsFit(L + 2));
    }

    @Test
    void carafeSplitByRowsGivesTheChannelSplitsValues() {
        // the same reassembly with its units split into the threads' ranges by rows (bands a multiple of the threads)
        // and by channels: only the order of the units differs, so the values are the same bit for bit
        java.util.Random rnd = new java.util.Random(43);
        int B = 2, C = 9;
        for (int[] c : new int[][] {{5, 2, 7, 16}, {3, 1, 13, 16}, {5, 2, 40, 8}, {3, 1, 33, 32}}) {
            int k = c[0], s = c[1], h = c[2], w = c[3], H = s * h, W = s * w;
            float[] x = new float[B * C * h * w], K = new float[B * k * k * H * W], self = new float[B * C * H * W];
            for (float[] a : new float[][] {x, K, self}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
            float[] packed = new float[CpuKernels.packedKernelSize(B, k * k, H, W)];
            CpuKernels.packKernel(PAR, K, B, k * k, H, W, packed);
            float[] byChannels = new float[self.length], byRows = new float[self.length];
            CpuKernels.carafe(PAR, x, B, C, h, w, packed, k, s, self, 2f, -1f, byChannels);
            CpuKernels.carafeOfIntermediate(PAR, x, B, C, h, w, packed, k, s, self, 2f, -1f, byRows);
            assertArrayEquals(byChannels, byRows, 0f, "k=" + k + " s=" + s + " h=" + h + " w=" + w);
        }
    }

    @Test
    void blockedSamplingGivesTheChannelMajorSamplersValues() {
        // same neighbours, weights and arithmetic: identical outputs, for smooth and scattered offsets, widths and planes
        // that are and are not whole vectors, 1 and 2 blocks per group, batch 2; and in place. LR widths of L and more
        // have their table made a vector of L source columns at a time (with and without a per-pixel rest)
        // blocks are the kernels' vector lanes of channels (8 with AVX2, 16 with AVX-512)
        int L = VectorKernels.L;
        assumeTrue(CpuKernels.blockedSampling(2 * L, 2), "needs 256- or 512-bit vectors");
        assertFalse(CpuKernels.blockedSampling(L, 2));
        java.util.Random rnd = new java.util.Random(23);
        for (int[] cs : new int[][] {{2, 2, 2 * L, 5, 12}, {1, 4, 4 * L, 6, 4}, {2, 1, 2 * L, 3, 7}, {1, 2, 4 * L, 4, 10},
                {1, 2, 2 * L, 3, L + 3}, {2, 1, 2 * L, 2, 2 * L}, {1, 1, L, 3, L}}) {
            int B = cs[0], G = cs[1], C = cs[2], h = cs[3], w = cs[4], n = 4 * h * w;
            assertTrue(CpuKernels.blockedSampling(C, G));
            float[] f = new float[B * C * n], delta = new float[B * 8 * G * h * w];
            for (int i = 0; i < f.length; i++) f[i] = (float) rnd.nextGaussian();
            for (int kind = 0; kind < 3; kind++) {
                // 0: scattered in (-2.5, 2.5) LR pixels; 1: one small shift per offset channel; 2: every sample 1.5 LR
                // pixels up (in place, output rows then get written before any later row reads them)
                for (int q = 0; q < B * 8 * G; q++) {
                    float shift = (float) rnd.nextGaussian() * 0.2f;
                    boolean dy = (q % (8 * G)) >= 4 * G;
                    for (int p = 0; p < h * w; p++) {
                        delta[q * h * w + p] = kind == 0 ? rnd.nextFloat() * 5f - 2.5f : kind == 1 ? shift : dy ? -1.5f : 0.1f;
                    }
                }
                float[] want = new float[f.length], got = new float[f.length];
                CpuKernels.gridSampleBorder(PAR, f, delta, B, C, G, h, w, want);
                CpuKernels.gridSampleBlocked(PAR, f, delta, B, C, G, h, w, got);
                assertArrayEquals(want, got, 0f, java.util.Arrays.toString(cs) + " kind=" + kind);
                float[] inPlace = f.clone();
                CpuKernels.gridSampleBlocked(PAR, inPlace, delta, B, C, G, h, w, inPlace);
                assertArrayEquals(want, inPlace, 0f, java.util.Arrays.toString(cs) + " kind=" + kind + " in place");
            }
        }
        assertFalse(CpuKernels.blockedSampling(12, 3));
        assertThrows(IllegalArgumentException.class, () -> CpuKernels.gridSampleBlocked(PAR, new float[48], new float[24], 1, 12, 3, 1, 1, new float[48]));
    }

    @Test
    void everyVectorConstantOfTheKernelsIsInTheirOneSpecies() throws Exception {
        // a second species beside the kernels' one makes C2 box vectors in other kernels (the Vector API's shared
        // implementation methods then see two vector classes): seen on AVX-512 with a 256-bit sampler, MBs per forward.
        // Int vectors of the same shape (the exp's exponent bits, the sampler table's indices) are the one other kind
        jdk.incubator.vector.VectorSpecies<?> one = VectorKernels.S, ints = VectorKernels.S.withLanes(int.class);
        int checked = 0;
        for (java.lang.reflect.Field f : VectorKernels.class.getDeclaredFields()) {
            if (!java.lang.reflect.Modifier.isStatic(f.getModifiers())) continue;
            f.setAccessible(true);
            Object v = f.get(null);
            jdk.incubator.vector.VectorSpecies<?> sp = v instanceof jdk.incubator.vector.VectorSpecies<?> s ? s
                    : v instanceof jdk.incubator.vector.VectorShuffle<?> s ? s.vectorSpecies()
                    : v instanceof jdk.incubator.vector.VectorMask<?> m ? m.vectorSpecies()
                    : v instanceof jdk.incubator.vector.Vector<?> x ? x.species() : null;
            if (sp == null) continue;
            checked++;
            assertEquals(one, sp == ints ? one : sp, "VectorKernels." + f.getName());
        }
        assertTrue(checked >= 10, "found only " + checked + " vector constants");
    }

    @Test
    void finalReassemblyInOnePassEqualsTheTwoReassembliesAndTheSum() {
        // lr_out = CARAFE(X_l, K_l, 5, s=2), hr_out = 2 X_h - CARAFE(X_h, K_h, 3, s=1) and the fpn-add sum in one
        // pass must give exactly what the separate passes give (same tiles; bands of several pairs, batch 2, outputs of
        // more than one column strip; widths whose output rows are whole vectors of up to 16 lanes, as AVX-512 gives)
        java.util.Random rnd = new java.util.Random(31);
        for (int[] cs : new int[][] {{2, 8, 4, 8}, {1, 4, 12, 8}, {1, 12, 8, 16}, {1, 8, 3, 72}, {2, 4, 2, 136}}) {
            int B = cs[0], C = cs[1], h = cs[2], w = cs[3], H = 2 * h, W = 2 * w, n = H * W;
            assertTrue(CpuKernels.carafeFinalFits(C, w, 5, 3));
            float[] xl = new float[B * C * h * w], xh = new float[B * C * n], Kl = new float[B * 25 * n], Kh = new float[B * 9 * n];
            for (float[] a : new float[][] {xl, xh, Kl, Kh}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
            float[] pl = new float[CpuKernels.packedKernelSize(B, 25, H, W)], ph = new float[CpuKernels.packedKernelSize(B, 9, H, W)];
            CpuKernels.packKernel(PAR, Kl, B, 25, H, W, pl);
            CpuKernels.packKernel(PAR, Kh, B, 9, H, W, ph);
            float[] lrWant = new float[B * C * n], hrWant = new float[B * C * n], sumWant = new float[B * C * n];
            CpuKernels.carafe(PAR, xl, B, C, h, w, pl, 5, 2, null, 0f, 1f, lrWant);
            CpuKernels.carafeAndAdd(PAR, xh, B, C, H, W, ph, 3, 1, xh, 2f, -1f, hrWant, lrWant, sumWant);
            float[] lr = new float[B * C * n], hr = new float[B * C * n], sum = new float[B * C * n];
            CpuKernels.carafeFinal(PAR, xl, xh, B, C, h, w, pl, ph, 2f, lr, hr, sum);
            String at = java.util.Arrays.toString(cs);
            assertArrayEquals(lrWant, lr, 0f, at + " lr_out");
            assertArrayEquals(hrWant, hr, 0f, at + " hr_out");
            assertArrayEquals(sumWant, sum, 0f, at + " sum");
            // an output nobody asked for (only the level sum wanted) is made in per-thread rows, strip by strip
            float[] sumLrOnly = new float[B * C * n], sumHrOnly = new float[B * C * n], sumOnly = new float[B * C * n];
            float[] lr2 = new float[B * C * n], hr2 = new float[B * C * n], sumAdd = new float[B * C * n];
            CpuKernels.carafeFinal(PAR, xl, xh, B, C, h, w, pl, ph, 2f, lr2, null, sumLrOnly);
            CpuKernels.carafeFinal(PAR, xl, xh, B, C, h, w, pl, ph, 2f, null, hr2, sumHrOnly);
            CpuKernels.carafeFinal(PAR, xl, xh, B, C, h, w, pl, ph, 2f, null, null, sumOnly);
            CpuKernels.carafeAndAdd(PAR, xh, B, C, H, W, ph, 3, 1, xh, 2f, -1f, null, lrWant, sumAdd);
            assertArrayEquals(lrWant, lr2, 0f, at + " lr_out beside a sum without hr_out");
            assertArrayEquals(hrWant, hr2, 0f, at + " hr_out beside a sum without lr_out");
            assertArrayEquals(sumWant, sumLrOnly, 0f, at + " sum without hr_out");
            assertArrayEquals(sumWant, sumHrOnly, 0f, at + " sum without lr_out");
            assertArrayEquals(sumWant, sumOnly, 0f, at + " sum alone");
            assertArrayEquals(sumWant, sumAdd, 0f, at + " carafeAndAdd's sum without its out");
            float[] hr1 = new float[B * C * n], lr1 = new float[B * C * n], hrWant1 = new float[B * C * n];
            CpuKernels.carafe(PAR, xh, B, C, H, W, ph, 3, 1, xh, 1f, -1f, hrWant1);
            CpuKernels.carafeFinal(PAR, xl, xh, B, C, h, w, pl, ph, 1f, lr1, hr1, null);
            assertArrayEquals(hrWant1, hr1, 0f, at + " hr_out without the residual's factor 2");
        }
        assertFalse(CpuKernels.carafeFinalFits(6, 8, 5, 3));
        assertFalse(CpuKernels.carafeFinalFits(8, 6, 5, 3));
        assertFalse(CpuKernels.carafeFinalFits(8, 8, 3, 3));
    }

    @Test
    void packedNormalisationEqualsNormaliseThenPack() {
        java.util.Random rnd = new java.util.Random(3);
        int k = 5, H = 19, W = 30, taps = k * k;     // 570 pixels: the unpacked normaliser's blocks of 256, one partial
        float[] z = new float[taps * H * W], hw = new float[taps];
        for (int i = 0; i < z.length; i++) z[i] = (float) rnd.nextGaussian();
        FreqFusionWeights.fillHamming(hw, true, k);
        int size = CpuKernels.packedKernelSize(1, taps, H, W);
        float[] kn = new float[z.length], ref = new float[size], mask = new float[z.length], packed = new float[size];
        CpuKernels.normalise(PAR, z, 1, taps, H * W, hw, kn);
        CpuKernels.packKernel(PAR, kn, 1, taps, H, W, ref);
        CpuKernels.normalisePacked(PAR, z, 1, taps, H, W, hw, mask, packed);
        assertArrayEquals(kn, mask, 1e-7f);
        // lanes past W (in each row's last vector) are padding: compare the pixels only
        int L = VectorKernels.L, nv = (W + L - 1) / L, compared = 0;
        for (int f = 0; f < size; f++) {
            int lane = f % L, v = f / (taps * 2 * L) % nv;
            if (v * L + lane < W) {
                assertEquals(ref[f], packed[f], 1e-7f);
                compared++;
            }
        }
        assertEquals(((H + 1) / 2) * 2 * taps * W, compared);
    }

    @Test
    void reassemblyThatNormalisesEachBandEqualsReassemblyThenNormalisation() {
        // Z = self + CARAFE(x, K), then N(Z) into a packed kernel (and the mask): made band by band by the units that
        // reassembled them, with the result written over the very kernel the reassembly reads (as the forward does
        // with K_l0 and K_l), against the two passes. Same arithmetic per pixel: the same values bit for bit. Batch 2,
        // channel tails (25 and 9 taps), odd rows for s = 1, images of one and of two column strips, a partial vector.
        java.util.Random rnd = new java.util.Random(53);
        int B = 2;
        for (int[] c : new int[][] {{5, 2, 7, 16}, {5, 2, 6, 80}, {3, 1, 13, 16}, {3, 1, 9, 150}, {3, 2, 5, 24}}) {
            int kSrc = c[0], s = c[1], h = c[2], w = c[3], H = s * h, W = s * w;
            for (int taps : new int[] {25, 9}) {
                int kOut = (int) Math.round(Math.sqrt(taps));
                float[] x = new float[B * taps * h * w], K = new float[B * kSrc * kSrc * H * W], self = new float[B * taps * H * W];
                for (float[] a : new float[][] {x, K, self}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
                float[] hw = new float[taps];
                FreqFusionWeights.fillHamming(hw, true, kOut);
                int size = CpuKernels.packedKernelSize(B, kSrc * kSrc, H, W), outSize = CpuKernels.packedKernelSize(B, taps, H, W);
                float[] packed = new float[size];
                CpuKernels.packKernel(PAR, K, B, kSrc * kSrc, H, W, packed);
                String what = "k=" + kSrc + " s=" + s + " h=" + h + " w=" + w + " taps=" + taps;
                float[] z = new float[self.length], want = new float[outSize], wantMask = new float[self.length];
                CpuKernels.carafeOfIntermediate(PAR, x, B, taps, h, w, packed, kSrc, s, self, 1f, 1f, z);
                CpuKernels.normalisePacked(PAR, z, B, taps, H, W, hw, wantMask, want);
                // into a separate kernel, with the mask
                float[] z2 = new float[self.length], got = new float[outSize], mask = new float[self.length];
                CpuKernels.carafeOfIntermediateAndNormalise(PAR, x, B, taps, h, w, packed, kSrc, s, self, 1f, 1f, z2, hw, mask, got);
                assertArrayEquals(z, z2, 0f, "logits, " + what);
                assertArrayEquals(wantMask, mask, 0f, "mask, " + what);
                assertArrayEquals(want, got, 0f, "kernel, " + what);
                // over the kernel it reads (same size only when the taps agree), without a mask
                if (taps == kSrc * kSrc) {
                    float[] inPlace = packed.clone(), z3 = new float[self.length];
                    CpuKernels.carafeOfIntermediateAndNormalise(PAR, x, B, taps, h, w, inPlace, kSrc, s, self, 1f, 1f, z3, hw, null, inPlace);
                    assertArrayEquals(z, z3, 0f, "logits in place, " + what);
                    assertArrayEquals(want, inPlace, 0f, "kernel in place, " + what);
                }
            }
        }
    }

    @Test
    void winogradConvThatNormalisesItsUnitsEqualsConvThenNormalisation() {
        // the encoders' logits normalised by the units that make them (all channels of 4 or, stacked, 8 rows x a strip
        // of columns) against the conv and then the normaliser's own pass: same values bit for bit. Batch 2, rows not
        // a multiple of 4 (odd too), narrow images (stacked units, one without a partner block) and wide ones (two
        // strips, a partial vector), 25 and 9 taps, from the conv's own copy and from a producer's
        java.util.Random rnd = new java.util.Random(59);
        int B = 2, ci = 6, L = VectorKernels.L;
        for (int[] hw : new int[][] {{5, 2 * L}, {11, L + 3}, {6, 4 * L + 6}, {9, 2 * L}}) {
            int h = hw[0], w = hw[1], n = h * w;
            for (int co : new int[] {25, 9}) {
                int k = (int) Math.round(Math.sqrt(co));
                float[] x = new float[B * ci * n], w3 = new float[co * ci * 9], b3 = new float[co];
                for (float[] a : new float[][] {x, w3, b3}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
                ConvWeights three = ConvWeights.pack(w3, b3, co, ci, 3);
                float[] hwin = new float[co];
                FreqFusionWeights.fillHamming(hwin, true, k);
                float[] scratch = new float[CpuKernels.convScratch(B, ci, h, w, 3, 1)];
                float[] z = new float[B * co * n], want = new float[CpuKernels.packedKernelSize(B, co, h, w)];
                CpuKernels.conv2d(PAR, x, B, h, w, three, 1, 1, z, scratch);
                CpuKernels.normalisePacked(PAR, z, B, co, h, w, hwin, null, want);
                String what = "h=" + h + " w=" + w + " co=" + co;
                float[] z2 = new float[z.length], got = new float[want.length];
                CpuKernels.conv3x3AndNormalise(PAR, x, false, B, h, w, three, z2, scratch, hwin, got);
                assertArrayEquals(z, z2, 0f, "logits, " + what);
                assertArrayEquals(want, got, 0f, "kernel, " + what);
                // scratch now holds x's padded copy: the prepadded form reads it as a producer's
                float[] z3 = new float[z.length], got3 = new float[want.length];
                CpuKernels.conv3x3AndNormalise(PAR, scratch, true, B, h, w, three, z3, null, hwin, got3);
                assertArrayEquals(z, z3, 0f, "logits from the copy, " + what);
                assertArrayEquals(want, got3, 0f, "kernel from the copy, " + what);
            }
        }
    }
}
