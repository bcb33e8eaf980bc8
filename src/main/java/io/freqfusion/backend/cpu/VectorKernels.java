package io.freqfusion.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The hot kernels on the Vector API: convolutions as register-blocked GEMMs (4 output channels x 2 vectors
 * of pixels per micro-tile), the kernel normaliser across pixel lanes, and CARAFE over pre-padded source rows
 * so that every tap is a contiguous, branch-free vector load.
 *
 * <p>Scratch arrays carry {@link #SLACK} extra floats so that the last vector of a row may read past the row
 * end without a mask; lanes past the end are never stored.
 */
final class VectorKernels {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Extra floats at the end of scratch buffers for unmasked tail loads. */
    static final int SLACK = 4 * 16;

    private VectorKernels() {}

    // ------------------------------------------------------------------ 1x1 convolution (GEMM over pixels)

    /** out[b, o, p] = bias[o] + sum_c w[o, c] x[b, c, p] for p < n. */
    static void conv1x1(Parallel par, float[] x, int B, int ci, int n, float[] w, float[] bias, int co, float[] out) {
        int strip = 2 * L;
        int strips = (n + strip - 1) / strip;
        // Units of 4 strips. Each full strip's inputs (ci rows of 2 L floats, n floats apart) are first packed into a
        // contiguous per-thread panel: rows n floats apart alias to the same cache sets (n is often a power of two,
        // e.g. 64 KiB apart at 128x128), so unpacked they would be re-read from L3 for every block of output channels.
        int unit = 4, units = (strips + unit - 1) / unit;
        par.forRange(B * units, (from, to) -> {
            float[] panel = panelBuffer(ci * strip);
            for (int item = from; item < to; item++) {
                int b = item / units, s0 = (item % units) * unit, s1 = Math.min(strips, s0 + unit);
                int xb = b * ci * n, ob = b * co * n;
                for (int s = s0; s < s1; s++) {
                    int p = s * strip;
                    if (p + strip <= n) {
                        for (int c = 0, src = xb + p; c < ci; c++, src += n) System.arraycopy(x, src, panel, c * strip, strip);
                        int o = 0;
                        for (; o + 4 <= co; o += 4) gemmTile4(panel, 0, strip, ci, w, bias, o, out, ob + o * n + p, n);
                        for (; o < co; o++) gemmTile1(panel, 0, strip, ci, w, bias, o, out, ob + o * n + p);
                    } else {
                        gemmTail(x, xb + p, n, ci, w, bias, co, out, ob + p, n - p);
                    }
                }
            }
        });
    }

    private static final ThreadLocal<float[][]> PANEL = ThreadLocal.withInitial(() -> new float[1][0]);
    private static final ThreadLocal<float[][]> ROW = ThreadLocal.withInitial(() -> new float[1][0]);

    /** A per-thread buffer for one output row of kernels, reused across calls. */
    private static float[] rowBuffer(int size) {
        float[][] holder = ROW.get();
        if (holder[0].length < size) holder[0] = new float[size];
        return holder[0];
    }

    /** A per-thread packing buffer of at least {@code size} floats, reused across calls. */
    private static float[] panelBuffer(int size) {
        float[][] holder = PANEL.get();
        if (holder[0].length < size) holder[0] = new float[size];
        return holder[0];
    }

    /** out[o..o+3][p..p+2L) for a full strip: 4 x 2 accumulators, one pass over the input channels. */
    private static void gemmTile4(float[] x, int xo, int xs, int ci, float[] w, float[] bias, int o, float[] out, int oo, int n) {
        FloatVector a00 = FloatVector.broadcast(S, bias[o]), a01 = a00;
        FloatVector a10 = FloatVector.broadcast(S, bias[o + 1]), a11 = a10;
        FloatVector a20 = FloatVector.broadcast(S, bias[o + 2]), a21 = a20;
        FloatVector a30 = FloatVector.broadcast(S, bias[o + 3]), a31 = a30;
        int w0 = o * ci, w1 = w0 + ci, w2 = w1 + ci, w3 = w2 + ci;
        for (int c = 0; c < ci; c++, xo += xs) {
            FloatVector v0 = FloatVector.fromArray(S, x, xo), v1 = FloatVector.fromArray(S, x, xo + L);
            FloatVector c0 = FloatVector.broadcast(S, w[w0 + c]);
            a00 = v0.fma(c0, a00);
            a01 = v1.fma(c0, a01);
            FloatVector c1 = FloatVector.broadcast(S, w[w1 + c]);
            a10 = v0.fma(c1, a10);
            a11 = v1.fma(c1, a11);
            FloatVector c2 = FloatVector.broadcast(S, w[w2 + c]);
            a20 = v0.fma(c2, a20);
            a21 = v1.fma(c2, a21);
            FloatVector c3 = FloatVector.broadcast(S, w[w3 + c]);
            a30 = v0.fma(c3, a30);
            a31 = v1.fma(c3, a31);
        }
        a00.intoArray(out, oo);
        a01.intoArray(out, oo + L);
        a10.intoArray(out, oo + n);
        a11.intoArray(out, oo + n + L);
        a20.intoArray(out, oo + 2 * n);
        a21.intoArray(out, oo + 2 * n + L);
        a30.intoArray(out, oo + 3 * n);
        a31.intoArray(out, oo + 3 * n + L);
    }

    private static void gemmTile1(float[] x, int xo, int xs, int ci, float[] w, float[] bias, int o, float[] out, int oo) {
        FloatVector a0 = FloatVector.broadcast(S, bias[o]), a1 = a0;
        for (int c = 0; c < ci; c++, xo += xs) {
            FloatVector cw = FloatVector.broadcast(S, w[o * ci + c]);
            a0 = FloatVector.fromArray(S, x, xo).fma(cw, a0);
            a1 = FloatVector.fromArray(S, x, xo + L).fma(cw, a1);
        }
        a0.intoArray(out, oo);
        a1.intoArray(out, oo + L);
    }

    /** The last, partial strip (remaining < 2 L pixels): masked loads and stores, one output channel at a time. */
    private static void gemmTail(float[] x, int xo0, int n, int ci, float[] w, float[] bias, int co, float[] out, int oo0, int remaining) {
        VectorMask<Float> m0 = S.indexInRange(0, remaining), m1 = S.indexInRange(L, remaining);
        for (int o = 0; o < co; o++) {
            FloatVector a0 = FloatVector.broadcast(S, bias[o]), a1 = a0;
            int xo = xo0;
            for (int c = 0; c < ci; c++, xo += n) {
                FloatVector cw = FloatVector.broadcast(S, w[o * ci + c]);
                a0 = FloatVector.fromArray(S, x, xo, m0).fma(cw, a0);
                a1 = FloatVector.fromArray(S, x, xo + L, m1).fma(cw, a1);
            }
            a0.intoArray(out, oo0 + o * n, m0);
            a1.intoArray(out, oo0 + o * n + L, m1);
        }
    }

    // ------------------------------------------------------------------ k x k convolution over a padded copy

    /** Zero-pads every plane of x (planes of h x w) by pad on all sides into xp (planes of (h+2pad) x (w+2pad)). */
    static void padPlanes(Parallel par, float[] x, int planes, int h, int w, int pad, float[] xp) {
        int hp = h + 2 * pad, wp = w + 2 * pad;
        par.forRange(planes, (from, to) -> {
            for (int pl = from; pl < to; pl++) {
                int dst = pl * hp * wp, src = pl * h * w;
                java.util.Arrays.fill(xp, dst, dst + pad * wp, 0f);
                for (int y = 0; y < h; y++) {
                    int d = dst + (y + pad) * wp;
                    java.util.Arrays.fill(xp, d, d + pad, 0f);
                    System.arraycopy(x, src + y * w, xp, d + pad, w);
                    java.util.Arrays.fill(xp, d + pad + w, d + wp, 0f);
                }
                java.util.Arrays.fill(xp, dst + (pad + h) * wp, dst + hp * wp, 0f);
            }
        });
    }

    /**
     * Convolution of the padded input xp (B, ci, hp, wp) with weight (co, ci, k, k), dilation dil, into out
     * (B, co, ho, wo) where ho = hp - dil (k - 1). Bias added.
     */
    static void convPadded(Parallel par, float[] xp, int B, int ci, int hp, int wp, float[] w, float[] bias,
                           int co, int k, int dil, float[] out) {
        int ho = hp - dil * (k - 1), wo = wp - dil * (k - 1), inPlane = hp * wp, outPlane = ho * wo;
        int strip = 2 * L;
        par.forRange(B * ho, (from, to) -> {
            for (int row = from; row < to; row++) {
                int b = row / ho, y = row % ho;
                int xb = b * ci * inPlane + y * wp, ob = b * co * outPlane + y * wo;
                for (int x = 0; x < wo; x += strip) {
                    int o = 0;
                    // 5-row tiles first when the channel count is not a multiple of 4 (25 = 5 x 5, 9 = 5 + 4).
                    for (; co % 4 != 0 && co - o >= 5 && (co - o) % 4 != 0; o += 5) {
                        convTile5(xp, xb + x, inPlane, wp, ci, k, dil, w, bias, o, out, ob + o * outPlane + x, outPlane, wo - x);
                    }
                    for (; o + 4 <= co; o += 4) {
                        convTile4(xp, xb + x, inPlane, wp, ci, k, dil, w, bias, o, out, ob + o * outPlane + x, outPlane, wo - x);
                    }
                    for (; o < co; o++) {
                        convTile1(xp, xb + x, inPlane, wp, ci, k, dil, w, bias, o, out, ob + o * outPlane + x, wo - x);
                    }
                }
            }
        });
    }

    // The tiles are separate small methods so that C2 compiles each with all accumulators in registers
    // (one huge method would exceed the JIT's size limits and run boxed in the interpreter).

    /** Output channels o..o+3 for 2 vectors of pixels starting at src (padded input) / dst (output). */
    private static void convTile4(float[] xp, int src0, int inPlane, int wp, int ci, int k, int dil, float[] w, float[] bias,
                                  int o, float[] out, int dst, int outPlane, int remaining) {
        int kk = k * k, wStride = ci * kk;
        FloatVector a00 = FloatVector.broadcast(S, bias[o]), a01 = a00;
        FloatVector a10 = FloatVector.broadcast(S, bias[o + 1]), a11 = a10;
        FloatVector a20 = FloatVector.broadcast(S, bias[o + 2]), a21 = a20;
        FloatVector a30 = FloatVector.broadcast(S, bias[o + 3]), a31 = a30;
        for (int c = 0; c < ci; c++) {
            int wBase = o * wStride + c * kk;
            for (int ky = 0; ky < k; ky++) {
                int src = src0 + c * inPlane + ky * dil * wp;
                int wi = wBase + ky * k;
                for (int kx = 0; kx < k; kx++, wi++) {
                    int s = src + kx * dil;
                    FloatVector v0 = FloatVector.fromArray(S, xp, s), v1 = FloatVector.fromArray(S, xp, s + L);
                    FloatVector c0 = FloatVector.broadcast(S, w[wi]);
                    a00 = v0.fma(c0, a00);
                    a01 = v1.fma(c0, a01);
                    FloatVector c1 = FloatVector.broadcast(S, w[wi + wStride]);
                    a10 = v0.fma(c1, a10);
                    a11 = v1.fma(c1, a11);
                    FloatVector c2 = FloatVector.broadcast(S, w[wi + 2 * wStride]);
                    a20 = v0.fma(c2, a20);
                    a21 = v1.fma(c2, a21);
                    FloatVector c3 = FloatVector.broadcast(S, w[wi + 3 * wStride]);
                    a30 = v0.fma(c3, a30);
                    a31 = v1.fma(c3, a31);
                }
            }
        }
        storeStrip(a00, a01, out, dst, remaining);
        storeStrip(a10, a11, out, dst + outPlane, remaining);
        storeStrip(a20, a21, out, dst + 2 * outPlane, remaining);
        storeStrip(a30, a31, out, dst + 3 * outPlane, remaining);
    }

    private static void convTile5(float[] xp, int src0, int inPlane, int wp, int ci, int k, int dil, float[] w, float[] bias,
                                  int o, float[] out, int dst, int outPlane, int remaining) {
        int kk = k * k, wStride = ci * kk;
        FloatVector a00 = FloatVector.broadcast(S, bias[o]), a01 = a00;
        FloatVector a10 = FloatVector.broadcast(S, bias[o + 1]), a11 = a10;
        FloatVector a20 = FloatVector.broadcast(S, bias[o + 2]), a21 = a20;
        FloatVector a30 = FloatVector.broadcast(S, bias[o + 3]), a31 = a30;
        FloatVector a40 = FloatVector.broadcast(S, bias[o + 4]), a41 = a40;
        for (int c = 0; c < ci; c++) {
            int wBase = o * wStride + c * kk;
            for (int ky = 0; ky < k; ky++) {
                int src = src0 + c * inPlane + ky * dil * wp;
                int wi = wBase + ky * k;
                for (int kx = 0; kx < k; kx++, wi++) {
                    int s = src + kx * dil;
                    FloatVector v0 = FloatVector.fromArray(S, xp, s), v1 = FloatVector.fromArray(S, xp, s + L);
                    FloatVector c0 = FloatVector.broadcast(S, w[wi]);
                    a00 = v0.fma(c0, a00);
                    a01 = v1.fma(c0, a01);
                    FloatVector c1 = FloatVector.broadcast(S, w[wi + wStride]);
                    a10 = v0.fma(c1, a10);
                    a11 = v1.fma(c1, a11);
                    FloatVector c2 = FloatVector.broadcast(S, w[wi + 2 * wStride]);
                    a20 = v0.fma(c2, a20);
                    a21 = v1.fma(c2, a21);
                    FloatVector c3 = FloatVector.broadcast(S, w[wi + 3 * wStride]);
                    a30 = v0.fma(c3, a30);
                    a31 = v1.fma(c3, a31);
                    FloatVector c4 = FloatVector.broadcast(S, w[wi + 4 * wStride]);
                    a40 = v0.fma(c4, a40);
                    a41 = v1.fma(c4, a41);
                }
            }
        }
        storeStrip(a00, a01, out, dst, remaining);
        storeStrip(a10, a11, out, dst + outPlane, remaining);
        storeStrip(a20, a21, out, dst + 2 * outPlane, remaining);
        storeStrip(a30, a31, out, dst + 3 * outPlane, remaining);
        storeStrip(a40, a41, out, dst + 4 * outPlane, remaining);
    }

    private static void convTile1(float[] xp, int src0, int inPlane, int wp, int ci, int k, int dil, float[] w, float[] bias,
                                  int o, float[] out, int dst, int remaining) {
        int kk = k * k;
        FloatVector a0 = FloatVector.broadcast(S, bias[o]), a1 = a0;
        for (int c = 0; c < ci; c++) {
            int wBase = (o * ci + c) * kk;
            for (int ky = 0; ky < k; ky++) {
                int src = src0 + c * inPlane + ky * dil * wp;
                for (int kx = 0; kx < k; kx++) {
                    int s = src + kx * dil;
                    FloatVector cw = FloatVector.broadcast(S, w[wBase + ky * k + kx]);
                    a0 = FloatVector.fromArray(S, xp, s).fma(cw, a0);
                    a1 = FloatVector.fromArray(S, xp, s + L).fma(cw, a1);
                }
            }
        }
        storeStrip(a0, a1, out, dst, remaining);
    }

    /** Stores two vectors at off, only the first {@code remaining} lanes when fewer than 2 L remain. */
    private static void storeStrip(FloatVector a0, FloatVector a1, float[] out, int off, int remaining) {
        if (remaining >= 2 * L) {
            a0.intoArray(out, off);
            a1.intoArray(out, off + L);
        } else {
            a0.intoArray(out, off, S.indexInRange(0, remaining));
            a1.intoArray(out, off + L, S.indexInRange(L, remaining));
        }
    }

    // ------------------------------------------------------------------ kernel normaliser

    /** q_t = exp(z_t - max) hw_t / sum_u exp(z_u - max) hw_u, vectorised over 8 pixels at a time. */
    static void normalise(Parallel par, float[] z, int B, int taps, int n, float[] hamming, float[] out) {
        int block = 512, blocks = (n + block - 1) / block;
        par.forRange(B * blocks, (from, to) -> {
            float[] kbuf = kernelBuffer(taps);
            for (int item = from; item < to; item++) {
                int b = item / blocks, p0 = (item % blocks) * block, p1 = Math.min(n, p0 + block);
                int base = b * taps * n;
                for (int p = p0; p < p1; p += L) {
                    // all taps are read into kbuf before any is written: out may alias z
                    normaliseVector(z, base + p, n, taps, hamming, p1 - p, kbuf);
                    boolean full = p + L <= p1;
                    VectorMask<Float> m = S.indexInRange(p, p1);
                    for (int t = 0; t < taps; t++) {
                        FloatVector v = FloatVector.fromArray(S, kbuf, t * L);
                        if (full) v.intoArray(out, base + t * n + p);
                        else v.intoArray(out, base + t * n + p, m);
                    }
                }
            }
        });
    }

    private static FloatVector load(float[] a, int off, boolean full, VectorMask<Float> m) {
        return full ? FloatVector.fromArray(S, a, off) : FloatVector.fromArray(S, a, off, m);
    }

    // ------------------------------------------------------------------ CARAFE

    /**
     * Copies every row of x (planes of h x w) into d, repeated s times horizontally and zero-padded by s*r
     * columns on both sides: d[row][s r + X] = x[row][X / s]. Then CARAFE's tap (ky, kx) for output column X
     * reads d[Y / s + ky - r][X + s kx] - contiguous in X.
     */
    static void spreadRows(Parallel par, float[] x, int planes, int h, int w, int s, int r, float[] d) {
        int dw = s * w + 2 * s * r, pad = s * r, dPlane = spreadPlane(h, w, s, r);
        par.forRange(planes * h, (from, to) -> {
            for (int row = from; row < to; row++) {
                int src = row * w, dst = (row / h) * dPlane + (row % h) * dw;
                java.util.Arrays.fill(d, dst, dst + pad, 0f);
                if (s == 1) {
                    System.arraycopy(x, src, d, dst + pad, w);
                } else if (s == 2) {
                    int X = 0;
                    for (; X + L <= w; X += L) {
                        FloatVector v = FloatVector.fromArray(S, x, src + X);
                        v.rearrange(DUP_LO).intoArray(d, dst + pad + 2 * X);
                        v.rearrange(DUP_HI).intoArray(d, dst + pad + 2 * X + L);
                    }
                    for (; X < w; X++) {
                        float v = x[src + X];
                        d[dst + pad + 2 * X] = v;
                        d[dst + pad + 2 * X + 1] = v;
                    }
                } else {
                    for (int X = 0; X < s * w; X++) d[dst + pad + X] = x[src + X / s];
                }
                java.util.Arrays.fill(d, dst + pad + s * w, dst + dw, 0f);
            }
        });
    }

    /**
     * Floats per spread plane: its rows plus one cache line, so that the planes of neighbouring channels (read
     * together by the CARAFE tiles) start in different cache sets even when h * dw is a multiple of 4 KiB.
     */
    static int spreadPlane(int h, int w, int s, int r) {
        return h * (s * w + 2 * s * r) + 16;
    }

    /** Lane i takes lane i/2 (low half duplicated) and L/2 + i/2 (high half duplicated). */
    private static final jdk.incubator.vector.VectorShuffle<Float> DUP_LO = jdk.incubator.vector.VectorShuffle.fromOp(S, i -> i / 2);
    private static final jdk.incubator.vector.VectorShuffle<Float> DUP_HI = jdk.incubator.vector.VectorShuffle.fromOp(S, i -> L / 2 + i / 2);

    /**
     * out = selfScale * self + carafeScale * CARAFE, reading the spread rows d (B, C, h, s w + 2 s r) made by
     * {@link #spreadRows}. Works per output row on blocks of 4 channels: each kernel vector is loaded once per
     * block and each source vector once per tap.
     *
     * <p>When {@code hamming} is non-null, {@code kernel} holds the logits and the kernel normaliser (softmax x
     * Hamming, renormalised) is applied on the fly per vector of pixels, so the normalised k^2 x H x W kernel is
     * never materialised (it lives in a small per-thread buffer in L1).
     */
    static void carafeSpread(Parallel par, float[] d, int B, int C, int h, int w, float[] kernel, int k, int s,
                             float[] hamming, float[] self, float selfScale, float carafeScale, float[] out) {
        int H = h * s, W = w * s, r = (k - 1) / 2, taps = k * k, dw = W + 2 * s * r;
        int outPlane = H * W, dPlane = spreadPlane(h, w, s, r);
        boolean fused = hamming != null;
        boolean plain = self == null && carafeScale == 1f;   // out = CARAFE(x, K): the 8-channel tile applies
        // Work unit: one output row x a group of channels, so that the group's source rows stay in L1/L2
        // while the row's kernel vectors are reused across the group. Fused units take all channels so that
        // each pixel's kernel is normalised once.
        int group = fused ? C : Math.min(C, 32), groups = (C + group - 1) / group;
        par.forRange(B * H * groups, (from, to) -> {
            float[] kbuf = fused ? kernelBuffer(taps) : null;
            float[] krow = rowBuffer(taps * W + L);
            for (int item = from; item < to; item++) {
                int row = item / groups, c0 = (item % groups) * group, c1 = Math.min(C, c0 + group);
                int b = row / H, Y = row % H;
                int kBase = b * taps * outPlane + Y * W;
                // The row's k^2 kernel (or logit) rows, packed contiguously: in place they are H*W floats apart, a
                // power-of-two stride that maps all taps to the same cache sets.
                for (int t = 0; t < taps; t++) System.arraycopy(kernel, kBase + t * outPlane, krow, t * W, W);
                int ky0 = Math.max(0, r - Y / s), ky1 = Math.min(k, h + r - Y / s);
                for (int X = 0; X < W; X += L) {
                    boolean full = X + L <= W;
                    int remaining = W - X;
                    float[] kArr;
                    int kOff, kStride;
                    boolean kFull;
                    if (fused) {
                        normaliseVector(krow, X, W, taps, hamming, remaining, kbuf);
                        kArr = kbuf;
                        kOff = 0;
                        kStride = L;
                        kFull = true;
                    } else {
                        kArr = krow;
                        kOff = X;
                        kStride = W;
                        kFull = full;
                    }
                    int c = c0;
                    for (; plain && full && c + 8 <= c1; c += 8) {
                        carafeTile8(d, (b * C + c) * dPlane + X, dPlane, dw, Y / s - r, ky0, ky1, k, s, kArr, kOff, kStride,
                                out, (b * C + c) * outPlane + Y * W + X, outPlane);
                    }
                    for (; c + 4 <= c1; c += 4) {
                        carafeTile4(d, (b * C + c) * dPlane + X, dPlane, dw, Y / s - r, ky0, ky1, k, s, kArr, kOff, kStride, kFull,
                                self, selfScale, carafeScale, out, (b * C + c) * outPlane + Y * W + X, outPlane, remaining);
                    }
                    for (; c < c1; c++) {
                        carafeTile1(d, (b * C + c) * dPlane + X, dw, Y / s - r, ky0, ky1, k, s, kArr, kOff, kStride, kFull,
                                self, selfScale, carafeScale, out, (b * C + c) * outPlane + Y * W + X, remaining);
                    }
                }
            }
        });
    }

    /** Four channels, one vector of output pixels: each kernel vector loaded once, each source vector once per tap. */
    private static void carafeTile4(float[] d, int db, int dPlane, int dw, int sy0, int ky0, int ky1, int k, int s,
                                    float[] kArr, int kOff, int kStride, boolean kFull,
                                    float[] self, float selfScale, float carafeScale, float[] out, int ob, int outPlane, int remaining) {
        boolean full = remaining >= L;
        VectorMask<Float> m = S.indexInRange(0, remaining);
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        for (int ky = ky0; ky < ky1; ky++) {
            int srow = db + (sy0 + ky) * dw;
            int kr = kOff + ky * k * kStride;
            for (int kx = 0; kx < k; kx++) {
                FloatVector kv = kFull ? FloatVector.fromArray(S, kArr, kr + kx * kStride)
                        : FloatVector.fromArray(S, kArr, kr + kx * kStride, m);
                int so = srow + kx * s;
                a0 = FloatVector.fromArray(S, d, so).fma(kv, a0);
                a1 = FloatVector.fromArray(S, d, so + dPlane).fma(kv, a1);
                a2 = FloatVector.fromArray(S, d, so + 2 * dPlane).fma(kv, a2);
                a3 = FloatVector.fromArray(S, d, so + 3 * dPlane).fma(kv, a3);
            }
        }
        finish(a0, self, selfScale, carafeScale, out, ob, full, m);
        finish(a1, self, selfScale, carafeScale, out, ob + outPlane, full, m);
        finish(a2, self, selfScale, carafeScale, out, ob + 2 * outPlane, full, m);
        finish(a3, self, selfScale, carafeScale, out, ob + 3 * outPlane, full, m);
    }

    /**
     * Eight channels of a plain CARAFE (no residual), full vectors only: eight independent accumulator chains keep
     * both FMA pipes busy. Kept free of helper calls so that C2 compiles it within its inlining budget (a vector
     * passed to a non-inlined call is boxed).
     */
    private static void carafeTile8(float[] d, int db, int dPlane, int dw, int sy0, int ky0, int ky1, int k, int s,
                                    float[] kArr, int kOff, int kStride,
                                    float[] out, int ob, int outPlane) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int ky = ky0; ky < ky1; ky++) {
            int srow = db + (sy0 + ky) * dw;
            int kr = kOff + ky * k * kStride;
            for (int kx = 0; kx < k; kx++) {
                FloatVector kv = FloatVector.fromArray(S, kArr, kr + kx * kStride);
                int so = srow + kx * s;
                a0 = FloatVector.fromArray(S, d, so).fma(kv, a0);
                a1 = FloatVector.fromArray(S, d, so + dPlane).fma(kv, a1);
                a2 = FloatVector.fromArray(S, d, so + 2 * dPlane).fma(kv, a2);
                a3 = FloatVector.fromArray(S, d, so + 3 * dPlane).fma(kv, a3);
                a4 = FloatVector.fromArray(S, d, so + 4 * dPlane).fma(kv, a4);
                a5 = FloatVector.fromArray(S, d, so + 5 * dPlane).fma(kv, a5);
                a6 = FloatVector.fromArray(S, d, so + 6 * dPlane).fma(kv, a6);
                a7 = FloatVector.fromArray(S, d, so + 7 * dPlane).fma(kv, a7);
            }
        }
        a0.intoArray(out, ob);
        a1.intoArray(out, ob + outPlane);
        a2.intoArray(out, ob + 2 * outPlane);
        a3.intoArray(out, ob + 3 * outPlane);
        a4.intoArray(out, ob + 4 * outPlane);
        a5.intoArray(out, ob + 5 * outPlane);
        a6.intoArray(out, ob + 6 * outPlane);
        a7.intoArray(out, ob + 7 * outPlane);
    }

    private static void carafeTile1(float[] d, int db, int dw, int sy0, int ky0, int ky1, int k, int s,
                                    float[] kArr, int kOff, int kStride, boolean kFull,
                                    float[] self, float selfScale, float carafeScale, float[] out, int ob, int remaining) {
        boolean full = remaining >= L;
        VectorMask<Float> m = S.indexInRange(0, remaining);
        FloatVector a0 = FloatVector.zero(S);
        for (int ky = ky0; ky < ky1; ky++) {
            int srow = db + (sy0 + ky) * dw;
            int kr = kOff + ky * k * kStride;
            for (int kx = 0; kx < k; kx++) {
                FloatVector kv = kFull ? FloatVector.fromArray(S, kArr, kr + kx * kStride)
                        : FloatVector.fromArray(S, kArr, kr + kx * kStride, m);
                a0 = FloatVector.fromArray(S, d, srow + kx * s).fma(kv, a0);
            }
        }
        finish(a0, self, selfScale, carafeScale, out, ob, full, m);
    }

    private static final ThreadLocal<float[][]> KERNEL_BUFFER = ThreadLocal.withInitial(() -> new float[1][0]);

    /** A per-thread buffer of taps x L floats, reused across calls (no allocation in the steady state). */
    private static float[] kernelBuffer(int taps) {
        float[][] holder = KERNEL_BUFFER.get();
        if (holder[0].length < taps * L) holder[0] = new float[taps * L];
        return holder[0];
    }

    /**
     * The kernel normaliser for one vector of pixels: logits z[off + t stride] over the taps t, normalised into
     * buf[t L] (softmax x Hamming window, renormalised). Used by {@link #normalise} and fused into the reassembly.
     */
    private static void normaliseVector(float[] z, int off, int stride, int taps, float[] hamming, int remaining, float[] buf) {
        boolean full = remaining >= L;
        VectorMask<Float> m = S.indexInRange(0, remaining);
        boolean window = hamming.length > 1;
        FloatVector mx = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int t = 0; t < taps; t++) {
            FloatVector v = load(z, off + t * stride, full, m);
            v.intoArray(buf, t * L);
            mx = mx.max(v);
        }
        FloatVector sum = FloatVector.zero(S);
        for (int t = 0; t < taps; t++) {
            FloatVector e = FloatVector.fromArray(S, buf, t * L).sub(mx).lanewise(VectorOperators.EXP).mul(window ? hamming[t] : hamming[0]);
            e.intoArray(buf, t * L);
            sum = sum.add(e);
        }
        FloatVector inv = FloatVector.broadcast(S, 1f).div(sum);
        for (int t = 0; t < taps; t++) FloatVector.fromArray(S, buf, t * L).mul(inv).intoArray(buf, t * L);
    }

    private static void finish(FloatVector acc, float[] self, float selfScale, float carafeScale, float[] out, int off,
                               boolean full, VectorMask<Float> m) {
        FloatVector v = acc.mul(carafeScale);
        if (self != null) v = load(self, off, full, m).fma(FloatVector.broadcast(S, selfScale), v);
        if (full) v.intoArray(out, off);
        else v.intoArray(out, off, m);
    }

    // ------------------------------------------------------------------ local cosine similarity

    /** The 8 neighbours at dilation 2, row-major (spec 2.6). */
    static final int[] LCS_DY = {-2, -2, -2, 0, 0, 2, 2, 2};
    static final int[] LCS_DX = {-2, 0, 2, -2, 2, -2, 0, 2};

    /**
     * Reads the first C channels of buf (B, C + 8, H, W) and writes the 8 similarities into channels C..C+7.
     * Vectorised over pixels of a row; neighbours outside the image are masked to zero (similarity 0).
     */
    static void localCosineSimilarity(Parallel par, float[] buf, int B, int C, int H, int W, float[] invNorm) {
        int n = H * W, batchStride = (C + 8) * n;
        par.forRange(B * H, (from, to) -> {
            for (int row = from; row < to; row++) {
                int b = row / H, y = row % H, base = b * batchStride + y * W;
                for (int x = 0; x < W; x += L) {
                    VectorMask<Float> m = S.indexInRange(x, W);
                    FloatVector ss = FloatVector.zero(S);
                    for (int c = 0; c < C; c++) {
                        FloatVector v = FloatVector.fromArray(S, buf, base + c * n + x, m);
                        ss = v.fma(v, ss);
                    }
                    FloatVector.broadcast(S, 1f).div(ss.lanewise(VectorOperators.SQRT).max(1e-8f)).intoArray(invNorm, b * n + y * W + x, m);
                }
            }
        });
        par.forRange(B * H, (from, to) -> {
            for (int row = from; row < to; row++) {
                int b = row / H, y = row % H, base = b * batchStride;
                for (int o = 0; o < 8; o++) {
                    int ny = y + LCS_DY[o], dx = LCS_DX[o];
                    int dst = base + (C + o) * n + y * W;
                    if (ny < 0 || ny >= H) {
                        java.util.Arrays.fill(buf, dst, dst + W, 0f);
                        continue;
                    }
                    for (int x = 0; x < W; x += L) {
                        VectorMask<Float> m = S.indexInRange(x, W);
                        // lanes whose neighbour column x + i + dx lies in [0, W) (indexInRange checks both bounds)
                        VectorMask<Float> mn = m.and(S.indexInRange(x + dx, W));
                        FloatVector dot = FloatVector.zero(S);
                        int p = y * W + x, q = ny * W + x + dx;
                        for (int c = 0; c < C; c++) {
                            FloatVector a = FloatVector.fromArray(S, buf, base + c * n + p, m);
                            FloatVector nb = FloatVector.fromArray(S, buf, base + c * n + q, mn);
                            dot = a.fma(nb, dot);
                        }
                        FloatVector ip = FloatVector.fromArray(S, invNorm, b * n + p, m);
                        FloatVector iq = FloatVector.fromArray(S, invNorm, b * n + q, mn);
                        dot.mul(ip).mul(iq).intoArray(buf, dst + x, m);
                    }
                }
            }
        });
    }
}
