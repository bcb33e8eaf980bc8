package io.freqfusion.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The hot kernels on the Vector API: convolutions as register-blocked GEMMs (4 or 1 output channels x 2
 * vectors of pixels per micro-tile, weights packed per block), the kernel normaliser across pixel lanes, and
 * CARAFE over an L1 ring of padded source rows so that every tap is a contiguous, branch-free vector load.
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

    /**
     * A per-thread scratch array that grows to the largest size asked for and is then reused: kernels get L1-sized
     * working buffers without allocating per call (the pool's threads live as long as the backend).
     */
    private static final class ThreadBuffer<A> {
        private final java.util.function.IntFunction<A> make;
        private final java.util.function.ToIntFunction<A> length;
        private final ThreadLocal<Object[]> holder = ThreadLocal.withInitial(() -> new Object[1]);

        private ThreadBuffer(java.util.function.IntFunction<A> make, java.util.function.ToIntFunction<A> length) {
            this.make = make;
            this.length = length;
        }

        static ThreadBuffer<float[]> floats() { return new ThreadBuffer<>(float[]::new, a -> a.length); }

        static ThreadBuffer<int[]> ints() { return new ThreadBuffer<>(int[]::new, a -> a.length); }

        static ThreadBuffer<boolean[]> booleans() { return new ThreadBuffer<>(boolean[]::new, a -> a.length); }

        @SuppressWarnings("unchecked")
        A get(int size) {
            Object[] h = holder.get();
            if (h[0] == null || length.applyAsInt((A) h[0]) < size) h[0] = make.apply(size);
            return (A) h[0];
        }
    }

    private static final ThreadBuffer<float[]> LCS_ROW = ThreadBuffer.floats(), LCS_RING = ThreadBuffer.floats();
    private static final ThreadBuffer<float[]> PANEL = ThreadBuffer.floats(), KERNEL_VECTOR = ThreadBuffer.floats(),
            SOURCE_ROWS = ThreadBuffer.floats(), RESULT_ROWS = ThreadBuffer.floats(), FINISHED_ROWS = ThreadBuffer.floats(),
            FINISHED_ROWS_LR = ThreadBuffer.floats();

    // ------------------------------------------------------------------ convolutions (register-blocked GEMMs)

    /*
     * Both convolutions run the same tiles: a block of 4 or 1 output channels x 2 vectors of output pixels,
     * accumulated over one flat loop of i = c k^2 + tap steps. Step i reads the block's packed weights at wb + i size,
     * front to back (ConvWeights), and the input at src0 + offs[i] (a table built per call: k x k convs), or, with no
     * table, at src0 + 2 L i (the panel tiles: a panel laid out strip by strip, for 1x1 convs and Winograd's
     * transform-domain GEMMs). An index linear in i lets C2 hoist the Vector API's bounds checks out of the loop.
     */

    private static final ThreadBuffer<int[]> OFFSETS = ThreadBuffer.ints();

    /** out[b, o, p] = bias[o] + sum_c w[o, c] x[b, c, p] for p < n. */
    static void conv1x1(Parallel par, float[] x, int B, int n, ConvWeights cw, float[] out) {
        conv1x1(par, x, B, n, 0, cw, out, null);
    }

    /**
     * {@link #conv1x1}, and with padded non-null also out's padded, deinterleaved copy for a following 3x3 Winograd conv
     * ({@link #convWinogradPrepadded}) of out's planes of w columns: each strip is copied while it is in L1, by the
     * thread that made it, instead of in a pass of its own. Needs {@link #padsInProducer}(w).
     */
    static void conv1x1(Parallel par, float[] x, int B, int n, int w, ConvWeights cw, float[] out, float[] padded) {
        if (padded != null && !padsInProducer(w)) throw new IllegalArgumentException("no padded copy from a producer at width " + w);
        int ci = cw.ci, co = cw.co, strip = 2 * L;
        // Work unit: a span of up to 16 strips (256 pixels with 8-float vectors, 512 with 16). Its inputs are first copied into a per-thread panel, one
        // contiguous run of the span per input channel (long sequential reads the prefetcher can follow: the ci
        // channel rows are n floats apart, often a power of two that maps them all to the same cache sets), laid out
        // strip by strip (ci x 2 L floats each) so that a strip's tiles read one compact block.
        int span = n >= 16 * 256 ? 16 * strip : 4 * strip;
        int units = (n + span - 1) / span;
        Conv1x1Task conv1x1 = CONV1X1.get();
        conv1x1.x = x; conv1x1.out = out; conv1x1.cw = cw; conv1x1.ci = ci; conv1x1.co = co; conv1x1.n = n;
        conv1x1.span = span; conv1x1.units = units; conv1x1.strip = strip;
        conv1x1.padded = padded; conv1x1.w = w;
        if (padded != null) {
            conv1x1.pe = winogradRun(w);
            conv1x1.padPlane = winogradPlane(n / w, w);
        }
        par.run(B * units, conv1x1);
    }

    private static final ThreadLocal<Conv1x1Task> CONV1X1 = ThreadLocal.withInitial(Conv1x1Task::new);

    /** {@link #conv1x1}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class Conv1x1Task extends Parallel.Task {
        float[] x, out, padded;
        ConvWeights cw;
        int ci, co, n, span, units, strip, w, pe, padPlane;

        @Override
        public void run(int from, int to) {
            float[] x = this.x, out = this.out, padded = this.padded;
            ConvWeights cw = this.cw;
            int ci = this.ci, co = this.co, n = this.n, span = this.span, units = this.units, strip = this.strip;
            int w = this.w, pe = this.pe, padPlane = this.padPlane, rl = 2 * pe;
            float[] panel = PANEL.get(ci * span + SLACK);
            for (int item = from; item < to; item++) {
                int b = item / units, p0 = (item % units) * span, len = Math.min(span, n - p0);
                int xb = b * ci * n, ob = b * co * n, strips = (len + strip - 1) / strip;
                // 8 channels' runs interleaved line by line: each run starts with a cache miss, and 8 independent
                // runs keep 8 of them in flight (compressors 0.87-0.94 in an in-process A/B against one run after
                // the other; 4 or 16 channels: no further change)
                int full = len / strip;
                for (int c0 = 0; c0 < ci; c0 += 8) {
                    for (int s = 0, c1 = Math.min(ci, c0 + 8); s < full; s++) {
                        for (int c = c0; c < c1; c++) {
                            int src = xb + c * n + p0 + s * strip, d = (s * ci + c) * strip;
                            FloatVector.fromArray(S, x, src).intoArray(panel, d);
                            FloatVector.fromArray(S, x, src + L).intoArray(panel, d + L);
                        }
                    }
                }
                if (full < strips) {                        // the last, partial strip: zero-filled past len
                    int rem = len - full * strip;
                    for (int c = 0; c < ci; c++) {
                        int d = (full * ci + c) * strip;
                        System.arraycopy(x, xb + c * n + p0 + full * strip, panel, d, rem);
                        java.util.Arrays.fill(panel, d + rem, d + strip, 0f);
                    }
                }
                for (int s = 0; s < strips; s++) {
                    int p = p0 + s * strip;
                    convBlocks(panel, s * ci * strip, null, ci, cw, out, ob + p, n, Math.min(strip, len - s * strip));
                    if (padded != null) {
                        // the strip's 2 L pixels lie in one row (w a multiple of 2 L): its padded row y + 1
                        int r0 = b * co * padPlane + (p / w + 1) * rl, x0 = p % w;
                        for (int o = 0; o < co; o++) toEvenOddChunk(out, ob + o * n + p, padded, r0 + o * padPlane, pe, x0);
                    }
                }
            }
        }

        @Override
        void clear() {
            x = null;
            out = null;
            padded = null;
            cw = null;
        }
    }

    /**
     * Zero-pads every plane of x (planes of h x w) by pad on all sides into xp (planes of hp x (w + 2 pad), hp >= h +
     * 2 pad: rows past h + pad are zero too).
     */
    static void padPlanes(Parallel par, float[] x, int planes, int h, int w, int pad, int hp, float[] xp) {
        int wp = w + 2 * pad;
        PadPlanesTask padPlanes = PAD_PLANES.get();
        padPlanes.x = x; padPlanes.xp = xp; padPlanes.h = h; padPlanes.w = w; padPlanes.pad = pad; padPlanes.hp = hp;
        padPlanes.wp = wp;
        par.run(planes, padPlanes);
    }

    private static final ThreadLocal<PadPlanesTask> PAD_PLANES = ThreadLocal.withInitial(PadPlanesTask::new);

    /** {@link #padPlanes}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class PadPlanesTask extends Parallel.Task {
        float[] x, xp;
        int h, w, pad, hp, wp;

        @Override
        public void run(int from, int to) {
            float[] x = this.x, xp = this.xp;
            int h = this.h, w = this.w, pad = this.pad, hp = this.hp, wp = this.wp;
            for (int pl = from; pl < to; pl++) {
                int dst = pl * hp * wp, src = pl * h * w;
                java.util.Arrays.fill(xp, dst, dst + pad * wp, 0f);
                for (int y = 0; y < h; y++) {
                    int d = dst + (y + pad) * wp;
                    java.util.Arrays.fill(xp, d, d + pad, 0f);
                    copyRow(x, src + y * w, xp, d + pad, w);
                    java.util.Arrays.fill(xp, d + pad + w, d + wp, 0f);
                }
                java.util.Arrays.fill(xp, dst + (pad + h) * wp, dst + hp * wp, 0f);
            }
        }

        @Override
        void clear() {
            x = null;
            xp = null;
        }
    }

    /**
     * Convolution of the padded input xp (B, ci, hp, wp) with dilation dil into out (B, co, ho, wo) where
     * ho = hp - dil (k - 1). Bias added.
     */
    static void convPadded(Parallel par, float[] xp, int B, int hp, int wp, ConvWeights cw, int dil, float[] out) {
        int ci = cw.ci, co = cw.co, k = cw.k, kk = k * k, n = ci * kk;
        int ho = hp - dil * (k - 1), wo = wp - dil * (k - 1), inPlane = hp * wp, outPlane = ho * wo;
        int[] offs = OFFSETS.get(n);
        for (int c = 0; c < ci; c++) {
            for (int t = 0; t < kk; t++) offs[c * kk + t] = c * inPlane + (t / k) * dil * wp + (t % k) * dil;
        }
        int strip = 2 * L;
        ConvPaddedTask convPadded = CONV_PADDED.get();
        convPadded.xp = xp; convPadded.out = out; convPadded.offs = offs; convPadded.cw = cw; convPadded.ho = ho;
        convPadded.wo = wo; convPadded.wp = wp; convPadded.ci = ci; convPadded.co = co; convPadded.inPlane = inPlane;
        convPadded.outPlane = outPlane; convPadded.n = n; convPadded.strip = strip;
        par.run(B * ho, convPadded);
    }

    private static final ThreadLocal<ConvPaddedTask> CONV_PADDED = ThreadLocal.withInitial(ConvPaddedTask::new);

    /** {@link #convPadded}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class ConvPaddedTask extends Parallel.Task {
        float[] xp, out;
        int[] offs;
        ConvWeights cw;
        int ho, wo, wp, ci, co, inPlane, outPlane, n, strip;

        @Override
        public void run(int from, int to) {
            float[] xp = this.xp, out = this.out;
            int[] offs = this.offs;
            ConvWeights cw = this.cw;
            int ho = this.ho, wo = this.wo, wp = this.wp, ci = this.ci, co = this.co, inPlane = this.inPlane;
            int outPlane = this.outPlane, n = this.n, strip = this.strip;
            for (int row = from; row < to; row++) {
                int b = row / ho, y = row % ho;
                int xb = b * ci * inPlane + y * wp, ob = b * co * outPlane + y * wo;
                for (int x = 0; x < wo; x += strip) convBlocks(xp, xb + x, offs, n, cw, out, ob + x, outPlane, Math.min(strip, wo - x));
            }
        }

        @Override
        void clear() {
            xp = null;
            out = null;
            offs = null;
            cw = null;
        }
    }

    private static final ThreadBuffer<float[]> STRIP = ThreadBuffer.floats();

    /**
     * Every output-channel block of cw for one strip of 2 L pixels. The tiles always store whole strips; a partial one
     * (remaining < 2 L) is computed into a per-thread strip buffer and its first {@code remaining} pixels copied out.
     */
    private static void convBlocks(float[] x, int src0, int[] offs, int n, ConvWeights cw, float[] out, int dst, int outPlane, int remaining) {
        boolean partial = remaining < 2 * L;
        float[] target = partial ? STRIP.get(4 * 2 * L) : out;
        for (int b = 0; b < cw.blockStart.length; b++) {
            int o = cw.blockStart[b], wb = cw.blockOffset[b], size = cw.blockSize[b];
            int d = partial ? 0 : dst + o * outPlane, plane = partial ? 2 * L : outPlane;
            if (offs == null) {
                switch (size) {
                    case 4 -> panelTile4(x, src0, n, cw.packed, wb, cw.bias, o, target, d, plane);
                    default -> panelTile1(x, src0, n, cw.packed, wb, cw.bias, o, target, d);
                }
            } else {
                switch (size) {
                    case 4 -> convTile4(x, src0, offs, n, cw.packed, wb, cw.bias, o, target, d, plane);
                    default -> convTile1(x, src0, offs, n, cw.packed, wb, cw.bias, o, target, d);
                }
            }
            if (partial) {
                for (int j = 0; j < size; j++) System.arraycopy(target, j * 2 * L, out, dst + (o + j) * outPlane, remaining);
            }
        }
    }

    // The tiles are separate small methods so that C2 compiles each with all accumulators in registers
    // (one huge method would exceed the JIT's size limits and run boxed).

    private static void convTile4(float[] x, int src0, int[] offs, int n, float[] wp, int wb, float[] bias, int o,
                                  float[] out, int dst, int outPlane) {
        FloatVector a00 = FloatVector.broadcast(S, bias[o]), a01 = a00;
        FloatVector a10 = FloatVector.broadcast(S, bias[o + 1]), a11 = a10;
        FloatVector a20 = FloatVector.broadcast(S, bias[o + 2]), a21 = a20;
        FloatVector a30 = FloatVector.broadcast(S, bias[o + 3]), a31 = a30;
        for (int i = 0, wi = wb; i < n; i++, wi += 4) {
            int s = src0 + offs[i];
            FloatVector v0 = FloatVector.fromArray(S, x, s), v1 = FloatVector.fromArray(S, x, s + L);
            FloatVector c = FloatVector.broadcast(S, wp[wi]);
            a00 = v0.fma(c, a00);
            a01 = v1.fma(c, a01);
            c = FloatVector.broadcast(S, wp[wi + 1]);
            a10 = v0.fma(c, a10);
            a11 = v1.fma(c, a11);
            c = FloatVector.broadcast(S, wp[wi + 2]);
            a20 = v0.fma(c, a20);
            a21 = v1.fma(c, a21);
            c = FloatVector.broadcast(S, wp[wi + 3]);
            a30 = v0.fma(c, a30);
            a31 = v1.fma(c, a31);
        }
        a00.intoArray(out, dst);
        a01.intoArray(out, dst + L);
        a10.intoArray(out, dst + outPlane);
        a11.intoArray(out, dst + outPlane + L);
        a20.intoArray(out, dst + 2 * outPlane);
        a21.intoArray(out, dst + 2 * outPlane + L);
        a30.intoArray(out, dst + 3 * outPlane);
        a31.intoArray(out, dst + 3 * outPlane + L);
    }

    private static void convTile1(float[] x, int src0, int[] offs, int n, float[] wp, int wb, float[] bias, int o,
                                  float[] out, int dst) {
        // even and odd steps into separate accumulators (see panelTile1)
        FloatVector a0 = FloatVector.broadcast(S, bias[o]), a1 = a0, b0 = FloatVector.zero(S), b1 = b0;
        int i = 0;
        for (; i + 1 < n; i += 2) {
            int s = src0 + offs[i], t = src0 + offs[i + 1];
            FloatVector c = FloatVector.broadcast(S, wp[wb + i]), d = FloatVector.broadcast(S, wp[wb + i + 1]);
            a0 = FloatVector.fromArray(S, x, s).fma(c, a0);
            a1 = FloatVector.fromArray(S, x, s + L).fma(c, a1);
            b0 = FloatVector.fromArray(S, x, t).fma(d, b0);
            b1 = FloatVector.fromArray(S, x, t + L).fma(d, b1);
        }
        if (i < n) {
            int s = src0 + offs[i];
            FloatVector c = FloatVector.broadcast(S, wp[wb + i]);
            a0 = FloatVector.fromArray(S, x, s).fma(c, a0);
            a1 = FloatVector.fromArray(S, x, s + L).fma(c, a1);
        }
        a0.add(b0).intoArray(out, dst);
        a1.add(b1).intoArray(out, dst + L);
    }

    // The same tiles for a panel input (offs == null): step i reads x at src0 + 2 L i, an index linear in the loop
    // counter, so C2 hoists the bounds checks. Separate methods, not a branch in the loop: one method called both ways
    // kept its checks in the loop in the forward (JFR: a third of all samples in Objects.checkIndex; separate:
    // convolutions 0.94 at W2, 0.95 at W3, compressors 0.88-0.92, in-process A/B).

    private static void panelTile4(float[] x, int src0, int n, float[] wp, int wb, float[] bias, int o,
                                  float[] out, int dst, int outPlane) {
        FloatVector a00 = FloatVector.broadcast(S, bias[o]), a01 = a00;
        FloatVector a10 = FloatVector.broadcast(S, bias[o + 1]), a11 = a10;
        FloatVector a20 = FloatVector.broadcast(S, bias[o + 2]), a21 = a20;
        FloatVector a30 = FloatVector.broadcast(S, bias[o + 3]), a31 = a30;
        for (int i = 0, wi = wb; i < n; i++, wi += 4) {
            int s = src0 + i * (2 * L);
            FloatVector v0 = FloatVector.fromArray(S, x, s), v1 = FloatVector.fromArray(S, x, s + L);
            FloatVector c = FloatVector.broadcast(S, wp[wi]);
            a00 = v0.fma(c, a00);
            a01 = v1.fma(c, a01);
            c = FloatVector.broadcast(S, wp[wi + 1]);
            a10 = v0.fma(c, a10);
            a11 = v1.fma(c, a11);
            c = FloatVector.broadcast(S, wp[wi + 2]);
            a20 = v0.fma(c, a20);
            a21 = v1.fma(c, a21);
            c = FloatVector.broadcast(S, wp[wi + 3]);
            a30 = v0.fma(c, a30);
            a31 = v1.fma(c, a31);
        }
        a00.intoArray(out, dst);
        a01.intoArray(out, dst + L);
        a10.intoArray(out, dst + outPlane);
        a11.intoArray(out, dst + outPlane + L);
        a20.intoArray(out, dst + 2 * outPlane);
        a21.intoArray(out, dst + 2 * outPlane + L);
        a30.intoArray(out, dst + 3 * outPlane);
        a31.intoArray(out, dst + 3 * outPlane + L);
    }

    private static void panelTile1(float[] x, int src0, int n, float[] wp, int wb, float[] bias, int o,
                                  float[] out, int dst) {
        // even and odd steps into separate accumulators: two chains of dependent FMAs would leave the FMA units idle
        // for most of their latency. The loop counts step pairs from 0 so that every index is the counter times a
        // constant: written as i += 2 up to i + 1 < n, C2 kept four bounds checks in it (32 instructions per 4 FMAs)
        FloatVector a0 = FloatVector.broadcast(S, bias[o]), a1 = a0, b0 = FloatVector.zero(S), b1 = b0;
        int pairs = n >> 1;
        for (int j = 0; j < pairs; j++) {
            int s = src0 + j * (4 * L), w = wb + 2 * j;
            FloatVector c = FloatVector.broadcast(S, wp[w]), d = FloatVector.broadcast(S, wp[w + 1]);
            a0 = FloatVector.fromArray(S, x, s).fma(c, a0);
            a1 = FloatVector.fromArray(S, x, s + L).fma(c, a1);
            b0 = FloatVector.fromArray(S, x, s + 2 * L).fma(d, b0);
            b1 = FloatVector.fromArray(S, x, s + 3 * L).fma(d, b1);
        }
        if ((n & 1) != 0) {
            int s = src0 + (n - 1) * (2 * L);
            FloatVector c = FloatVector.broadcast(S, wp[wb + n - 1]);
            a0 = FloatVector.fromArray(S, x, s).fma(c, a0);
            a1 = FloatVector.fromArray(S, x, s + L).fma(c, a1);
        }
        a0.add(b0).intoArray(out, dst);
        a1.add(b1).intoArray(out, dst + L);
    }




    // ------------------------------------------------------------------ 3x3 convolution by Winograd F(4x2, 3x3)

    /*
     * A 3x3, stride-1, pad-1 convolution by Winograd F(4, 3) down the columns and F(2, 3) along the rows: each tile of
     * 4 output rows x 2 output columns is computed from a 6 x 4 patch d of the padded input as
     * Y = A4^T [ sum_c U_c .* V_c ] A2 with V_c = B4^T d_c B2 and U_c = G4 g_c G2^T (prepared once per plan,
     * ConvWeights#winograd): 24 products per 8 outputs instead of 72 (1/3 of the direct FMAs), run as 24 GEMMs
     * (co x ci by ci x tiles) on the 1x1 panel tiles.
     *   B4^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
     *   A4^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
     *   B2^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  A2^T = [1 1 1 0; 0 1 -1 -1]
     * Vectorised over tiles, the patch columns of L tiles are 2 apart; the padded copy of the input is therefore
     * stored deinterleaved (per padded row: its even columns, then its odd ones), so that column 2 tx + m of L tiles
     * is one contiguous load (run m mod 2, offset m / 2) and both transforms run on whole vectors. (A column-only F(4, 3)
     * does half the direct FMAs without the deinterleave; a full F(4x4, 3x3) needs a stride-4 deinterleave that cost
     * more than the FMAs it saved.) Rounding: the transforms' integer factors and G4's 1/6, 1/24 add ~1e-6 relative to
     * the output's scale at 64 input channels; the tests compare with the definition.
     *
     * Unit of work: one batch item x one block of 4 output rows x one strip of 2 L tiles (4 L output columns); where a
     * row of tiles fits one vector (w <= 2 L), two blocks of 4 rows, one per vector. Its V (24 positions x ci x 2 L,
     * per position a panel as the 1x1 tiles read it) and M (24 x co x 2 L) live in per-thread buffers.
     */

    private static final ThreadBuffer<float[]> WINO_V = ThreadBuffer.floats(), WINO_M = ThreadBuffer.floats(), WINO_T = ThreadBuffer.floats();

    /** Rows of the padded copy {@link #convWinograd} reads: 1 + 4 ceil(h / 4) + 1. */
    static int winogradRows(int h) { return 4 * ((h + 3) / 4) + 2; }

    /** Floats per deinterleaved run (even or odd columns) of a padded row: every strip's tiles and one more, plus slack. */
    static int winogradRun(int w) { return ((w + 1) / 2 + 2 * L - 1) / (2 * L) * (2 * L) + L; }

    /** Floats of the padded, deinterleaved copy of x (B, ci, h, w) that {@link #convWinograd} builds in its scratch. */
    static int winogradScratch(int B, int ci, int h, int w) { return B * ci * winogradPlane(h, w) + SLACK; }

    /** Floats per channel plane of the padded, deinterleaved copy: winogradRows(h) rows of two runs. */
    private static int winogradPlane(int h, int w) { return winogradRows(h) * 2 * winogradRun(w); }

    private static final jdk.incubator.vector.VectorShuffle<Float> EVENS = jdk.incubator.vector.VectorShuffle.fromOp(S, i -> 2 * i);
    private static final jdk.incubator.vector.VectorShuffle<Float> ODDS = jdk.incubator.vector.VectorShuffle.fromOp(S, i -> 2 * i + 1);
    private static final jdk.incubator.vector.VectorShuffle<Float> ZIP_LO = jdk.incubator.vector.VectorShuffle.fromOp(S, i -> (i & 1) * L + i / 2);
    private static final jdk.incubator.vector.VectorShuffle<Float> ZIP_HI = jdk.incubator.vector.VectorShuffle.fromOp(S, i -> (i & 1) * L + L / 2 + i / 2);

    /**
     * out (B, co, h, w) = conv3x3(x (B, ci, h, w)), padding 1, through the Winograd weights of cw; xp: {@link #winogradScratch}
     * floats. With out2 non-null the outputs are split: channels below {@code split} go to out (B, split, h, w), the
     * rest to out2 (B, co - split, h, w) (two convolutions of one input stacked: one padded copy and input transform).
     */
    static void convWinograd(Parallel par, float[] x, int B, int h, int w, ConvWeights cw, float[] out, float[] out2, int split, float[] xp) {
        convWinograd(par, x, B, h, w, cw, out, out2, split, xp, null, null);
    }

    /** {@link #convWinograd}, and with normalised non-null the normalisation of its output (see {@link #convWinogradPrepadded}). */
    static void convWinograd(Parallel par, float[] x, int B, int h, int w, ConvWeights cw, float[] out, float[] out2, int split, float[] xp,
                             float[] hamming, float[] normalised) {
        int hp = winogradRows(h), pe = winogradRun(w), inPlane = winogradPlane(h, w), blocks = (h + 3) / 4;
        WinogradCopyTask winogradCopy = WINOGRAD_COPY.get();
        winogradCopy.x = x; winogradCopy.xp = xp; winogradCopy.h = h; winogradCopy.w = w;
        winogradCopy.inPlane = inPlane; winogradCopy.hp = hp; winogradCopy.pe = pe; winogradCopy.ci = cw.ci; winogradCopy.blocks = blocks;
        par.run(B * blocks, winogradCopy);
        convWinogradPrepadded(par, xp, B, h, w, cw, out, out2, split, hamming, normalised);
    }

    /**
     * Whether the producer of a Winograd conv's input of width w can write its padded, deinterleaved copy as it goes
     * (whole chunks of 2 L columns per row; see {@link #toEvenOddChunk}).
     */
    static boolean padsInProducer(int w) { return w % (2 * L) == 0; }

    /**
     * {@link #convWinograd} of an input whose padded, deinterleaved copy xp its producer has written (the values: xp's
     * pads are zero from its allocation, and nothing else writes that buffer).
     */
    static void convWinogradPrepadded(Parallel par, float[] xp, int B, int h, int w, ConvWeights cw, float[] out, float[] out2, int split) {
        convWinogradPrepadded(par, xp, B, h, w, cw, out, out2, split, null, null);
    }

    /**
     * {@link #convWinogradPrepadded}, and with normalised non-null also the kernel normalisation of out (co taps: see
     * {@link #normalisePacked}) into normalised, pair-packed: each unit normalises the row pairs and columns it made,
     * all co channels of them just written, instead of a pass of its own over the logits.
     */
    static void convWinogradPrepadded(Parallel par, float[] xp, int B, int h, int w, ConvWeights cw, float[] out, float[] out2, int split,
                                      float[] hamming, float[] normalised) {
        if (normalised != null && (out2 != null || hamming == null)) throw new IllegalArgumentException("a normalising conv has one output");
        int ci = cw.ci, co = cw.co, strip = 2 * L, pe = winogradRun(w), rl = 2 * pe, inPlane = winogradPlane(h, w);
        int blocks = (h + 3) / 4;
        int strips = ((w + 1) / 2 + strip - 1) / strip;
        // An image whose row of tiles fits one vector (w <= 2 L: LR 32² at W2, HR 32² at W1) would leave a unit's second
        // vector of tiles outside the image, and its transforms and GEMMs wasted: such units take the tiles of two row
        // blocks instead, one per vector ("stacked")
        boolean stacked = (w + 1) / 2 <= L;
        int units = stacked ? (blocks + 1) / 2 : blocks * strips;
        // position strides of V and M one strip past a multiple of ci (co) strips: a power-of-two stride would put
        // a channel's 24 positions in one L1 set
        int vps = (ci + 1) * strip, mps = (co + 1) * strip;
        WinogradTask winograd = WINOGRAD.get();
        winograd.xp = xp; winograd.out = out; winograd.out2 = out2; winograd.cw = cw; winograd.h = h; winograd.w = w;
        winograd.ci = ci; winograd.co = co; winograd.split = split; winograd.inPlane = inPlane; winograd.rl = rl;
        winograd.pe = pe; winograd.blocks = blocks; winograd.strips = strips; winograd.strip = strip;
        winograd.vps = vps; winograd.mps = mps; winograd.stacked = stacked; winograd.units = units;
        winograd.hamming = hamming; winograd.normalised = normalised;
        par.run(B * units, winograd);
    }

    private static final ThreadLocal<WinogradTask> WINOGRAD = ThreadLocal.withInitial(WinogradTask::new);

    /** {@link #convWinograd}'s tiles (transforms and GEMMs), the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class WinogradTask extends Parallel.Task {
        float[] xp, out, out2, hamming, normalised;
        ConvWeights cw;
        int h, w, ci, co, split, inPlane, rl, pe, blocks, strips, strip, vps, mps, units;
        boolean stacked;

        @Override
        public void run(int from, int to) {
            float[] xp = this.xp, out = this.out, out2 = this.out2;
            ConvWeights cw = this.cw;
            int h = this.h, w = this.w, ci = this.ci, co = this.co, split = this.split, inPlane = this.inPlane;
            int rl = this.rl, pe = this.pe, blocks = this.blocks, strips = this.strips, strip = this.strip;
            int vps = this.vps, mps = this.mps, units = this.units;
            boolean stacked = this.stacked;
            float[] hamming = this.hamming, normalised = this.normalised;
            float[] v = WINO_V.get(24 * vps + SLACK), m = WINO_M.get(24 * mps + SLACK), t = WINO_T.get(40 * L);
            for (int item = from; item < to; item++) {
                // tile vector tv of the unit: L tiles of output rows y0 + tv dy from column 2 tx0 + tv dx
                int b = item / units, u = item % units, y0, tx0, dy, dx;
                if (stacked) {
                    y0 = 8 * u;
                    tx0 = 0;
                    dy = y0 + 4 < h ? 4 : 0;     // a last block without a partner transforms its own tiles twice
                    dx = 0;
                } else {
                    y0 = 4 * (u / strips);
                    tx0 = (u % strips) * strip;
                    dy = 0;
                    dx = L;
                }
                for (int c = 0; c < ci; c++) {
                    int p = (b * ci + c) * inPlane + y0 * rl + tx0;
                    inputTiles(xp, p, rl, pe, t, v, c * strip, vps);
                    inputTiles(xp, p + dy * rl + dx, rl, pe, t, v, c * strip + L, vps);
                }
                for (int pos = 0; pos < 24; pos++) convBlocks(v, pos * vps, null, ci, cw.winograd[pos], m, pos * mps, strip, strip);
                for (int o = 0; o < co; o++) {
                    boolean first = out2 == null || o < split;
                    float[] dst = first ? out : out2;
                    int plane = (first ? b * (out2 == null ? co : split) + o : b * (co - split) + o - split) * h * w;
                    outputTiles(m, o * strip, mps, cw.bias[o], t, dst, plane, h, w, y0, 2 * tx0);
                    if (dy > 0 || dx > 0) outputTiles(m, o * strip + L, mps, cw.bias[o], t, dst, plane, h, w, y0 + dy, 2 * (tx0 + dx));
                }
                if (normalised != null) {
                    // the unit's rows (4, or 8 when stacked with a partner block) x columns, every channel just written:
                    // whole row pairs, as the blocks start on multiples of 4 rows
                    int pairs = (h + 1) / 2, x0 = 2 * tx0, rowsMade = Math.min(h, y0 + (stacked ? 4 + dy : 4));
                    normalisePairs(out, b, co, h, w, y0 / 2, Math.min(pairs, (rowsMade + 1) / 2), x0, Math.min(4 * L, w - x0),
                            hamming, null, normalised);
                }
            }
        }

        @Override
        void clear() {
            xp = null;
            out = null;
            out2 = null;
            cw = null;
            hamming = null;
            normalised = null;
        }
    }

    private static final ThreadLocal<WinogradCopyTask> WINOGRAD_COPY = ThreadLocal.withInitial(WinogradCopyTask::new);

    /**
     * {@link #convWinograd}'s padded, deinterleaved copy, the call's arguments in fields (see {@link Parallel.Task}). Unit
     * of work: a batch's block of 4 padded rows (the rows the Winograd block of the same index starts on) over all
     * channels, in image order like the Winograd's units, so that each thread copies the rows it wrote as the
     * previous kernel's output and the Winograd then reads them from its own cache.
     */
    private static final class WinogradCopyTask extends Parallel.Task {
        float[] x, xp;
        int h, w, inPlane, hp, pe, ci, blocks;

        @Override
        public void run(int from, int to) {
            float[] x = this.x, xp = this.xp;
            int h = this.h, w = this.w, inPlane = this.inPlane, hp = this.hp, pe = this.pe, ci = this.ci, blocks = this.blocks;
            int rl = 2 * pe;
            for (int item = from; item < to; item++) {
                int b = item / blocks, j = item % blocks;
                // block j: padded rows 4 j .. 4 j + 3; the last block also the two rows below (hp = 4 blocks + 2)
                int r0 = 4 * j, r1 = j == blocks - 1 ? hp : r0 + 4;
                for (int c = 0; c < ci; c++) {
                    int plane = (b * ci + c) * inPlane, src = (b * ci + c) * h * w;
                    for (int r = r0; r < r1; r++) {
                        if (r == 0 || r > h) java.util.Arrays.fill(xp, plane + r * rl, plane + (r + 1) * rl, 0f);
                        else toEvenOddRow(x, src + (r - 1) * w, w, xp, plane + r * rl, pe);
                    }
                }
            }
        }

        @Override
        void clear() {
            x = null;
            xp = null;
        }
    }

    /**
     * One image row into a padded, deinterleaved row at dst + r0 (2 pe floats, nothing written outside them): it holds
     * P[2 j] at j and P[2 j + 1] at pe + j, P[u] = x[u - 1] (zero outside the row): the odd run is x's even columns,
     * the even run x's odd columns one place on.
     */
    private static void toEvenOddRow(float[] x, int s, int w, float[] dst, int r0, int pe) {
        FloatVector zero = FloatVector.zero(S);
        int rowEnd = r0 + 2 * pe, ev = r0 + 1, od = r0 + pe, runs = w / (2 * L);
        // the pads as whole zero vectors before the values (a vector past the even run's pad spills into the odd
        // run, written after): three Arrays.fill calls per row cost as much as the row's values
        zero.intoArray(dst, r0);                                  // P[0]: the left pad
        for (int z = ev + w / 2; z < od; z += L) zero.intoArray(dst, z);
        int z = od + (w + 1) / 2;
        for (; z + L <= rowEnd; z += L) zero.intoArray(dst, z);
        for (; z < rowEnd; z++) dst[z] = 0f;                      // not into the next row: another unit may own it
        // a 0-based count of 2 L runs: with X itself as the counter C2 kept a signed X / 2 and a safepoint poll per
        // iteration (the copy 0.83-0.91 of that form's time, a same-process microbenchmark, same values)
        // toEvenOddChunk's mapping, written out: through that helper `bench/ab-kernel.sh ... encode W2` read 1.033 and
        // 1.046 in two runs (within a few per cent of the tool's spread, but both above 1)
        for (int j = 0; j < runs; j++) {
            FloatVector a = FloatVector.fromArray(S, x, s + 2 * L * j), b = FloatVector.fromArray(S, x, s + 2 * L * j + L);
            a.rearrange(EVENS, b).intoArray(dst, od + L * j);
            a.rearrange(ODDS, b).intoArray(dst, ev + L * j);
        }
        for (int X = 2 * L * runs; X < w; X++) dst[((X & 1) == 0 ? od : ev) + X / 2] = x[s + X];
    }

    /**
     * 2 L values of one row, v[s .. s + 2 L) = columns x0 .. x0 + 2 L - 1 (x0 a multiple of 2 L), into that row's padded,
     * deinterleaved form at r0 (the layout of {@link #toEvenOddRow}; the pads are not touched): the even columns into
     * the odd run, the odd ones into the even run.
     */
    private static void toEvenOddChunk(float[] v, int s, float[] dst, int r0, int pe, int x0) {
        FloatVector a = FloatVector.fromArray(S, v, s), b = FloatVector.fromArray(S, v, s + L);
        a.rearrange(EVENS, b).intoArray(dst, r0 + pe + x0 / 2);
        a.rearrange(ODDS, b).intoArray(dst, r0 + 1 + x0 / 2);
    }

    /**
     * V = B4^T d B2 for L tiles of one input channel: patch row r at p + r rl, column 2 tx + m at run m mod 2 (pe apart),
     * offset m / 2. Writes V at v[vo + (4 i + j) posStride], via t (24 vectors: the column pass per patch column m).
     */
    private static void inputTiles(float[] p, int base, int rl, int pe, float[] t, float[] v, int vo, int posStride) {
        for (int mc = 0; mc < 4; mc++) {               // down patch column mc: t[mc][i] = (B4^T d)[i][mc]
            int o = base + (mc & 1) * pe + (mc >> 1);
            FloatVector d0 = FloatVector.fromArray(S, p, o), d1 = FloatVector.fromArray(S, p, o + rl);
            FloatVector d2 = FloatVector.fromArray(S, p, o + 2 * rl), d3 = FloatVector.fromArray(S, p, o + 3 * rl);
            FloatVector d4 = FloatVector.fromArray(S, p, o + 4 * rl), d5 = FloatVector.fromArray(S, p, o + 5 * rl);
            FloatVector a = d2.mul(-4f).add(d4), bb = d1.mul(-4f).add(d3), c = d4.sub(d2), e = d3.sub(d1).mul(2f);
            int tb = mc * 6 * L;
            d0.mul(4f).add(d2.mul(-5f)).add(d4).intoArray(t, tb);
            a.add(bb).intoArray(t, tb + L);
            a.sub(bb).intoArray(t, tb + 2 * L);
            c.add(e).intoArray(t, tb + 3 * L);
            c.sub(e).intoArray(t, tb + 4 * L);
            d1.mul(4f).add(d3.mul(-5f)).add(d5).intoArray(t, tb + 5 * L);
        }
        for (int i = 0; i < 6; i++) {                  // along row i: V[i][j] = (row i of t) B2
            FloatVector e0 = FloatVector.fromArray(S, t, i * L), e1 = FloatVector.fromArray(S, t, (6 + i) * L);
            FloatVector e2 = FloatVector.fromArray(S, t, (12 + i) * L), e3 = FloatVector.fromArray(S, t, (18 + i) * L);
            int d = vo + 4 * i * posStride;
            e0.sub(e2).intoArray(v, d);
            e1.add(e2).intoArray(v, d + posStride);
            e2.sub(e1).intoArray(v, d + 2 * posStride);
            e1.sub(e3).intoArray(v, d + 3 * posStride);
        }
    }

    /**
     * Y = A4^T M A2 + bias for L tiles of one output channel (M[i][j] at m[mo + (4 i + j) posStride]): output rows
     * y0 .. y0 + 3, columns x0 .. x0 + 2 L - 1 (those inside the image), each row's even and odd columns zipped.
     */
    private static void outputTiles(float[] m, int mo, int posStride, float bias, float[] t, float[] out, int plane, int h, int w, int y0, int x0) {
        if (x0 >= w) return;
        for (int j = 0; j < 4; j++) {                  // down column j: s[r][j] = (A4^T M)[r][j]
            int o = mo + j * posStride;
            FloatVector m0 = FloatVector.fromArray(S, m, o), m1 = FloatVector.fromArray(S, m, o + 4 * posStride);
            FloatVector m2 = FloatVector.fromArray(S, m, o + 8 * posStride), m3 = FloatVector.fromArray(S, m, o + 12 * posStride);
            FloatVector m4 = FloatVector.fromArray(S, m, o + 16 * posStride), m5 = FloatVector.fromArray(S, m, o + 20 * posStride);
            FloatVector a = m1.add(m2), bb = m1.sub(m2), c = m3.add(m4), d = m3.sub(m4);
            m0.add(a).add(c).intoArray(t, j * L);
            d.mul(2f).add(bb).intoArray(t, (4 + j) * L);
            c.mul(4f).add(a).intoArray(t, (8 + j) * L);
            d.mul(8f).add(bb).add(m5).intoArray(t, (12 + j) * L);
        }
        FloatVector bv = FloatVector.broadcast(S, bias);
        int rows = Math.min(4, h - y0), cols = Math.min(2 * L, w - x0);
        for (int r = 0; r < rows; r++) {               // along row r: even = s0 + s1 + s2, odd = s1 - s2 - s3
            FloatVector s0 = FloatVector.fromArray(S, t, 4 * r * L), s1 = FloatVector.fromArray(S, t, (4 * r + 1) * L);
            FloatVector s2 = FloatVector.fromArray(S, t, (4 * r + 2) * L), s3 = FloatVector.fromArray(S, t, (4 * r + 3) * L);
            FloatVector even = s0.add(s1).add(s2).add(bv), odd = s1.sub(s2).sub(s3).add(bv);
            int dst = plane + (y0 + r) * w + x0;
            if (cols == 2 * L) {
                even.rearrange(ZIP_LO, odd).intoArray(out, dst);
                even.rearrange(ZIP_HI, odd).intoArray(out, dst + L);
            } else {                                   // the image's last columns: through t's spare vectors
                even.rearrange(ZIP_LO, odd).intoArray(t, 16 * L);
                even.rearrange(ZIP_HI, odd).intoArray(t, 17 * L);
                System.arraycopy(t, 16 * L, out, dst, cols);
            }
        }
    }

    // ------------------------------------------------------------------ elementwise

    /** sum = a + b, in blocks of 16 Ki floats over all threads. */
    static void add(Parallel par, float[] a, float[] b, float[] sum) {
        int n = sum.length, block = 16 * 1024, blocks = (n + block - 1) / block;
        AddTask add = ADD.get();
        add.a = a; add.b = b; add.sum = sum; add.n = n; add.block = block;
        par.run(blocks, add);
    }

    private static final ThreadLocal<AddTask> ADD = ThreadLocal.withInitial(AddTask::new);

    /** {@link #add}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class AddTask extends Parallel.Task {
        float[] a, b, sum;
        int n, block;

        @Override
        public void run(int from, int to) {
            float[] a = this.a, b = this.b, sum = this.sum;
            int n = this.n, block = this.block;
            int start = from * block;
            addRow(a, start, b, start, sum, start, Math.min(n, to * block) - start);
        }

        @Override
        void clear() {
            a = null;
            b = null;
            sum = null;
        }
    }

    /** sum[so + X] = a[ao + X] + b[bo + X] for X < W (sum may be b). */
    private static void addRow(float[] a, int ao, float[] b, int bo, float[] sum, int so, int W) {
        int X = 0;
        for (; X + L <= W; X += L) FloatVector.fromArray(S, a, ao + X).add(FloatVector.fromArray(S, b, bo + X)).intoArray(sum, so + X);
        for (; X < W; X++) sum[so + X] = a[ao + X] + b[bo + X];
    }

    // ------------------------------------------------------------------ kernel normaliser

    /** q_t = exp(z_t - max) hw_t / sum_u exp(z_u - max) hw_u, vectorised over 8 pixels at a time. */
    static void normalise(Parallel par, float[] z, int B, int taps, int n, float[] hamming, float[] out) {
        int block = 256, blocks = (n + block - 1) / block;
        NormaliseTask normalise = NORMALISE.get();
        normalise.z = z; normalise.hamming = hamming; normalise.out = out; normalise.taps = taps; normalise.n = n;
        normalise.block = block; normalise.blocks = blocks;
        par.run(B * blocks, normalise);
    }

    private static final ThreadLocal<NormaliseTask> NORMALISE = ThreadLocal.withInitial(NormaliseTask::new);

    /** {@link #normalise}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class NormaliseTask extends Parallel.Task {
        float[] z, hamming, out;
        int taps, n, block, blocks;

        @Override
        public void run(int from, int to) {
            float[] z = this.z, hamming = this.hamming, out = this.out;
            int taps = this.taps, n = this.n, block = this.block, blocks = this.blocks;
            // the pair-packed layout's geometry (a vector of pixels' taps 2 L apart), half of it used: the one
            // normaliseInPlace reads
            float[] kbuf = KERNEL_VECTOR.get(2 * taps * block);
            int vStride = 2 * L * taps;
            for (int item = from; item < to; item++) {
                int b = item / blocks, p0 = (item % blocks) * block, len = Math.min(n, p0 + block) - p0;
                int base = b * taps * n + p0, width = vectorWidth(len);
                // copied out first, so out may alias z; the padding lanes are zero, normalised, never copied back
                for (int t = 0; t < taps; t++) rowToPacked(z, base + t * n, kbuf, 2 * t * L, vStride, len);
                normaliseInPlace(kbuf, 0, taps, hamming, width, vStride);
                for (int t = 0; t < taps; t++) rowFromPacked(kbuf, 2 * t * L, vStride, out, base + t * n, len);
            }
        }

        @Override
        void clear() {
            z = null;
            hamming = null;
            out = null;
        }
    }

    // ------------------------------------------------------------------ CARAFE

    /*
     * Layout of a CARAFE kernel as the reassembly reads it ("pair-packed"): for every batch item, pair of output rows
     * (2p, 2p+1) and vector of L output columns v, its taps one after the other, each tap as the pair's two rows:
     * packed[((((b pairs + p) nv + v) taps + t) 2 + i) L + lane] = K[b, t, 2p + i, v L + lane], nv = wv / L, wv = W
     * rounded up to L (padding lanes zero). The 2 k^2 vectors a tile multiplies into one vector of output pixels are
     * then read front to back, and a pair's whole kernel is one contiguous block (in (B, taps, H, W) the taps are H W
     * floats apart, a power-of-two stride that maps every tap to the same cache sets). Read vector-major, the tiles run
     * ~20 % faster per FMA than on a tap-major block (isolated, both L1- and L2-resident). The last pair of an odd H
     * repeats its row.
     */

    static int vectorWidth(int W) { return (W + L - 1) / L * L; }

    static int packedKernelSize(int B, int taps, int H, int W) {
        return B * ((H + 1) / 2) * taps * 2 * vectorWidth(W);
    }

    /** Packs a normalised kernel K (B, taps, H, W) into the pair-packed layout. */
    static void packKernel(Parallel par, float[] K, int B, int taps, int H, int W, float[] packed) {
        int pairs = (H + 1) / 2, pairK = taps * 2 * vectorWidth(W), plane = H * W;
        PackKernelTask packKernel = PACK_KERNEL.get();
        packKernel.K = K; packKernel.packed = packed; packKernel.taps = taps; packKernel.H = H; packKernel.W = W;
        packKernel.pairs = pairs; packKernel.pairK = pairK; packKernel.plane = plane;
        par.run(B * pairs, packKernel);
    }

    private static final ThreadLocal<PackKernelTask> PACK_KERNEL = ThreadLocal.withInitial(PackKernelTask::new);

    /** {@link #packKernel}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class PackKernelTask extends Parallel.Task {
        float[] K, packed;
        int taps, H, W, pairs, pairK, plane;

        @Override
        public void run(int from, int to) {
            float[] K = this.K, packed = this.packed;
            int taps = this.taps, H = this.H, W = this.W, pairs = this.pairs, pairK = this.pairK, plane = this.plane;
            for (int item = from; item < to; item++) {
                int b = item / pairs, p = item % pairs;
                for (int t = 0; t < taps; t++) {
                    for (int i = 0; i < 2; i++) {
                        int Y = Math.min(2 * p + i, H - 1);
                        rowToPacked(K, (b * taps + t) * plane + Y * W, packed, item * pairK + (2 * t + i) * L, taps * 2 * L, W);
                    }
                }
            }
        }

        @Override
        void clear() {
            K = null;
            packed = null;
        }
    }

    /** Row of W floats at src[so] to its packed vectors, the first at packed[pk], the next vStride further (tails zeroed). */
    private static void rowToPacked(float[] src, int so, float[] packed, int pk, int vStride, int W) {
        int X = 0;
        for (; X + L <= W; X += L, pk += vStride) FloatVector.fromArray(S, src, so + X).intoArray(packed, pk);
        if (X < W) {
            System.arraycopy(src, so + X, packed, pk, W - X);
            java.util.Arrays.fill(packed, pk + W - X, pk + L, 0f);
        }
    }

    /** The inverse of {@link #rowToPacked}: W floats from the packed vectors at packed[pk], vStride apart, to dst[d0]. */
    private static void rowFromPacked(float[] packed, int pk, int vStride, float[] dst, int d0, int W) {
        int X = 0;
        for (; X + L <= W; X += L, pk += vStride) FloatVector.fromArray(S, packed, pk).intoArray(dst, d0 + X);
        if (X < W) System.arraycopy(packed, pk, dst, d0 + X, W - X);
    }

    /**
     * The kernel normaliser (softmax x Hamming window, renormalised) of the logits z (B, taps, H, W) into the
     * pair-packed layout, and also into out (B, taps, H, W) when out is non-null (the mask the module returns;
     * out may alias z).
     */
    static void normalisePacked(Parallel par, float[] z, int B, int taps, int H, int W, float[] hamming, float[] out, float[] packed) {
        int pairs = (H + 1) / 2;
        NormalisePackedTask normalisePacked = NORMALISE_PACKED.get();
        normalisePacked.z = z; normalisePacked.hamming = hamming; normalisePacked.out = out;
        normalisePacked.packed = packed; normalisePacked.taps = taps; normalisePacked.H = H; normalisePacked.W = W;
        normalisePacked.pairs = pairs;
        par.run(B * pairs, normalisePacked);
    }

    private static final ThreadLocal<NormalisePackedTask> NORMALISE_PACKED = ThreadLocal.withInitial(NormalisePackedTask::new);

    /** {@link #normalisePacked}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class NormalisePackedTask extends Parallel.Task {
        float[] z, hamming, out, packed;
        int taps, H, W, pairs;

        @Override
        public void run(int from, int to) {
            float[] z = this.z, hamming = this.hamming, out = this.out, packed = this.packed;
            int taps = this.taps, H = this.H, W = this.W, pairs = this.pairs;
            for (int item = from; item < to; item++) {
                normalisePairs(z, item / pairs, taps, H, W, item % pairs, item % pairs + 1, 0, W, hamming, out, packed);
            }
        }

        @Override
        void clear() {
            z = null;
            hamming = null;
            out = null;
            packed = null;
        }
    }

    /**
     * The kernel normaliser of batch item b's logits z (taps, H, W) for row pairs p0 .. p1 - 1 and output columns x0 ..
     * x0 + width - 1 (x0 a multiple of L; width a multiple of L unless the columns end the row) into the pair-packed
     * kernel, and into out (same layout as z) when out is non-null: each row's logits are copied into their packed
     * vectors (padding lanes zeroed) and normalised there. The last pair of an odd H repeats its row.
     */
    private static void normalisePairs(float[] z, int b, int taps, int H, int W, int p0, int p1, int x0, int width,
                                       float[] hamming, float[] out, float[] packed) {
        int pairs = (H + 1) / 2, plane = H * W, vStride = taps * 2 * L, pairK = taps * 2 * vectorWidth(W);
        int wvs = vectorWidth(width);
        for (int p = p0; p < p1; p++) {
            for (int i = 0; i < 2; i++) {
                int Y = Math.min(2 * p + i, H - 1), zb = b * taps * plane + Y * W + x0;
                int pb = (b * pairs + p) * pairK + x0 / L * vStride + i * L;
                for (int t = 0; t < taps; t++) rowToPacked(z, zb + t * plane, packed, pb + 2 * t * L, vStride, width);
                normaliseInPlace(packed, pb, taps, hamming, wvs, vStride);
                if (out != null && 2 * p + i < H) {
                    for (int t = 0; t < taps; t++) rowFromPacked(packed, pb + 2 * t * L, vStride, out, zb + t * plane, width);
                }
            }
        }
    }

    /** Bytes of pair-packed kernel one work unit of the reassembly keeps hot (in L2) while its channel blocks reuse it. */
    private static final int KERNEL_BAND_BYTES = 192 * 1024;

    /**
     * Floats per ring row of the reassembly, whatever the image width: wider images are reassembled in column strips of
     * {@link #stripWidth} output columns. The constant ring geometry lets C2 address the k = 5, s = 2 tile's 4 channels
     * as constant displacements off one register instead of keeping (and spilling) a base per channel and tap row:
     * CARAFE(X_l) 0.96-0.98 of the run-time-stride form's time at W2 and W3, whole forward 0.96-0.98 at W2 and 0.96 at
     * W3 (in-process A/Bs, same values bit for bit). The k = 3, s = 1 tile keeps a run-time stride: with the constant
     * one it ran faster in a microbenchmark (0.85-0.90 per FMA) but 1.32x slower in the forward's reassembly.
     */
    private static final int RING_ROW = 136;
    /** Channel strides of the rings of the two default tiles: 5 rows (k = 5, s = 2) and 4 rows (k = 3, s = 1). */
    private static final int RING_K5S2 = 5 * RING_ROW, RING_K3S1 = 4 * RING_ROW;

    /** Floats per ring row: {@link #RING_ROW}, or more for a kernel so wide that not one vector of columns would fit. */
    private static int ringRow(int s, int k) { return Math.max(RING_ROW, L + s * (k - 1)); }

    /**
     * Output columns per strip: whole vectors whose ring row, with its s (k - 1) pad floats, fits {@link #ringRow}. That
     * is the geometry of the spread s = 2 rows used until 2026-12-01; the s = 2 ring rows now hold each source column
     * once (width / 2 + k - 1 floats), so their strips are narrower than the ring would allow: kept so, as wider
     * strips for images over 128 output columns were not measured.
     */
    private static int stripWidth(int s, int k) { return (ringRow(s, k) - s * (k - 1)) / L * L; }

    /**
     * Bands of row pairs: enough that none has more than maxPairs, band b holding pairs [b pairs / bands, (b + 1) pairs /
     * bands), so that they differ by one pair at most and the pool's even per-thread ranges of units are even in work
     * too (with whole bands of maxPairs, W3's 64 pairs were 9 bands of 7 and one of 1). With rowsByThread the bands are
     * also a multiple of the threads in number, so that each thread's range is whole bands of rows: for a feature made earlier in the forward, whose rows (and kernel rows)
     * the same thread made, that keeps them in its own cache (on a VM whose two vCPUs sit on different CCDs, a line
     * the other core wrote costs ~170 ns). The final reassemblies read the client's features, which no core wrote:
     * there the channel split (one band at W2) measured faster (X_h's pass 0.958 against 1.049 row-split in a
     * same-process A/B).
     */
    private static int bands(Parallel par, int pairs, int maxPairs, boolean rowsByThread) {
        int t = par.threads(), bands = (pairs + maxPairs - 1) / maxPairs;
        if (rowsByThread && t > 1 && pairs >= t) bands = Math.min(pairs, (bands + t - 1) / t * t);
        return bands;
    }

    /**
     * out = selfScale * self + carafeScale * CARAFE(x, K, k, s) for s in {1, 2} (see {@link CpuKernels#carafe}); K
     * pair-packed.
     *
     * <p>Unit of work: a block of 4 channels x a band of row pairs (bands sized so that their kernel stays in L2 while
     * the channel blocks of the band run) x a column strip (one for images up to 128 output columns wide, see
     * {@link #RING_ROW}). A unit walks its 4 source planes top to bottom, so memory is read and written in long
     * sequential runs per plane. The source rows a pair reads (k for s = 2, k + 1 for s = 1) live in a ring of
     * per-thread rows in L1, zero-padded, so that tap (ky, kx) of a vector of output pixels is one unmasked load at
     * X / s + kx (for s = 2 one load serves 2 L output columns, see {@link #carafeS2Tile4}); each new pair copies in
     * only its new rows. Each source vector loaded feeds both output rows of the pair. With rowsByThread the units are split into the threads' ranges by rows
     * rather than by channels ({@link #bands}).
     */
    static void carafe(Parallel par, float[] x, int B, int C, int h, int w, float[] packed, int k, int s,
                       float[] self, float selfScale, float carafeScale, float[] out, float[] addend, float[] sum,
                       boolean rowsByThread) {
        carafe(par, x, B, C, h, w, packed, k, s, self, selfScale, carafeScale, out, addend, sum, rowsByThread, null);
    }

    /**
     * {@link #carafe}, and with padded non-null also out's padded, deinterleaved copy for a following 3x3 Winograd conv
     * ({@link #convWinogradPrepadded}), each pair of rows copied while it is in L1; with out null only that copy is
     * written (the rows are made in L1). Needs {@link #padsInProducer}(s w) and no sum.
     */
    static void carafe(Parallel par, float[] x, int B, int C, int h, int w, float[] packed, int k, int s,
                       float[] self, float selfScale, float carafeScale, float[] out, float[] addend, float[] sum,
                       boolean rowsByThread, float[] padded) {
        carafe(par, x, B, C, h, w, packed, k, s, self, selfScale, carafeScale, out, addend, sum, rowsByThread, padded, null, null, null);
    }

    /**
     * {@link #carafe} of logits (out: (B, C, s h, s w), C taps), and with normalised non-null also their kernel
     * normalisation (see {@link #normalisePacked}) into normalised, pair-packed, and into mask (B, C, s h, s w) when
     * mask is non-null: each unit then reassembles all channels of its band of rows and normalises the band while its
     * rows are in cache, instead of a pass of its own over the whole logits. normalised may be the packed kernel this
     * reassembly reads: a unit overwrites only the band and columns whose kernel it alone has read.
     */
    static void carafe(Parallel par, float[] x, int B, int C, int h, int w, float[] packed, int k, int s,
                       float[] self, float selfScale, float carafeScale, float[] out, float[] addend, float[] sum,
                       boolean rowsByThread, float[] padded, float[] hamming, float[] mask, float[] normalised) {
        if (normalised != null && (out == null || sum != null || padded != null || hamming == null)) {
            throw new IllegalArgumentException("a normalising reassembly writes out, and no sum or padded copy");
        }
        if (padded != null && (sum != null || !padsInProducer(s * w))) {
            throw new IllegalArgumentException("no padded copy from this reassembly (width " + s * w + (sum != null ? ", with a sum)" : ")"));
        }
        if (s != 1 && s != 2) throw new IllegalArgumentException("CARAFE scale must be 1 or 2, got " + s);
        int H = h * s, W = w * s, r = (k - 1) / 2, taps = k * k, wv = vectorWidth(W);
        int dw = ringRow(s, k), rows = ringRows(s, k), cStride = rows * dw, sw = stripWidth(s, k), strips = (W + sw - 1) / sw;
        int pairs = (H + 1) / 2, pairK = taps * 2 * wv, outPlane = H * W, inPlane = h * w;
        int bands = bands(par, pairs, Math.max(1, Math.min(pairs, KERNEL_BAND_BYTES / (4 * pairK))), rowsByThread);
        if (padded != null && strips > 1 && sw % (2 * L) != 0) throw new IllegalArgumentException("strips of " + sw + " columns");
        int blocks = (C + 3) / 4;
        // Rows of whole vectors are finished by the tiles themselves, straight into out (10-15 % faster than a second
        // pass over a result buffer, in-process A/B at W2 and W3); tails (W % L, the last row of an odd H, < 4 channels)
        // go through res and combineRow.
        boolean wholeVectors = W % L == 0 && (self != null || carafeScale == 1f);
        CarafeTask carafe = CARAFE.get();
        carafe.x = x; carafe.packed = packed; carafe.self = self; carafe.out = out; carafe.addend = addend;
        carafe.sum = sum; carafe.C = C; carafe.h = h; carafe.w = w; carafe.k = k; carafe.s = s; carafe.r = r;
        carafe.H = H; carafe.W = W; carafe.wv = wv; carafe.dw = dw; carafe.sw = sw; carafe.strips = strips; carafe.rows = rows;
        carafe.cStride = cStride;
        carafe.pairs = pairs; carafe.pairK = pairK; carafe.outPlane = outPlane; carafe.inPlane = inPlane;
        carafe.bands = bands; carafe.blocks = blocks; carafe.selfScale = selfScale;
        carafe.carafeScale = carafeScale; carafe.wholeVectors = wholeVectors;
        carafe.padded = padded;
        if (padded != null) {
            carafe.pe = winogradRun(W);
            carafe.padPlane = winogradPlane(H, W);
        }
        carafe.hamming = hamming; carafe.mask = mask; carafe.normalised = normalised;
        // a normalising reassembly's unit is a whole band (all its channel blocks): a band is normalised once complete
        par.run(B * bands * strips * (normalised != null ? 1 : blocks), carafe);
    }

    private static final ThreadLocal<CarafeTask> CARAFE = ThreadLocal.withInitial(CarafeTask::new);

    /** {@link #carafe}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class CarafeTask extends Parallel.Task {
        float[] x, packed, self, out, addend, sum, padded, hamming, mask, normalised;
        int C, h, w, k, s, r, H, W, wv, dw, sw, strips, rows, cStride, pairs, pairK, outPlane, inPlane, bands, blocks, pe, padPlane;
        float selfScale, carafeScale;
        boolean wholeVectors;

        @Override
        public void run(int from, int to) {
            float[] x = this.x, packed = this.packed, self = this.self, out = this.out, addend = this.addend;
            float[] sum = this.sum, padded = this.padded;
            int pe = this.pe, padPlane = this.padPlane;
            int C = this.C, h = this.h, w = this.w, k = this.k, s = this.s, r = this.r, H = this.H, W = this.W;
            int wv = this.wv, dw = this.dw, sw = this.sw, strips = this.strips, rows = this.rows, cStride = this.cStride;
            int pairs = this.pairs;
            int pairK = this.pairK, outPlane = this.outPlane, inPlane = this.inPlane;
            int bands = this.bands, blocks = this.blocks, taps = k * k;
            float selfScale = this.selfScale, carafeScale = this.carafeScale;
            boolean wholeVectors = this.wholeVectors;
            float[] ring = SOURCE_ROWS.get(4 * cStride + 2 * L);
            float[] res = RESULT_ROWS.get(8 * wv);
            // Without out (an fpn-add level whose hr_out nobody asked for) each row is made in L1 and only the sum is
            // written: one write of the level instead of two.
            float[] rowsOut = out == null ? FINISHED_ROWS.get(8 * wv) : null;
            // The k = 3, s = 1 tile takes the residual's self from its ring when self is the source (X_h, P_h); other
            // tiles read self at the destination's offsets (residualRows), so only the ring form, or no self, may
            // finish rows into rowsOut.
            boolean selfFromRing = self == x && s == 1 && k == 3;
            boolean finishInTile = wholeVectors && (out != null || self == null || selfFromRing);
            // The pads of a one-strip image stay zero for this call's geometry: rows only ever get their values copied in.
            java.util.Arrays.fill(ring, 0, 4 * cStride + 2 * L, 0f);
            float[] hamming = this.hamming, mask = this.mask, normalised = this.normalised;
            int perItem = normalised != null ? blocks : 1;
            for (int item = from; item < to; item++) {
                for (int unit = item * perItem; unit < (item + 1) * perItem; unit++) {
                    // (batch, band, strip, channel block), the block fastest: a band's kernel stays hot for all its blocks
                    int b = unit / (bands * strips * blocks), band = (unit / (strips * blocks)) % bands;
                    int x0 = (unit / blocks) % strips * sw, c = (unit % blocks) * 4;
                    int width = Math.min(sw, W - x0), wvs = vectorWidth(width);   // the strip's columns, whole vectors
                    int nc = Math.min(4, C - c), p0 = band * pairs / bands, p1 = (band + 1) * pairs / bands;
                    int next = Integer.MIN_VALUE;   // the first source row not yet in the ring
                    for (int p = p0; p < p1; p++) {
                        int y0 = 2 * p, sy0 = (s == 2 ? p : y0) - r;
                        next = advanceRing(x, (b * C + c) * inPlane, inPlane, h, w, s, k, nc, sy0, next, ring, dw, x0, wvs, strips > 1);
                        int first = Math.floorMod(sy0, rows), kb = (b * pairs + p) * pairK + x0 / L * taps * 2 * L;
                        boolean direct = nc == 4 && finishInTile && y0 + 1 < H;
                        float[] dst = !direct ? res : out != null ? out : rowsOut, tileSelf = direct ? self : null;
                        int d0 = direct && out != null ? (b * C + c) * outPlane + y0 * W + x0 : 0;
                        int rs = direct && out != null ? W : wvs, cs = direct && out != null ? outPlane : 2 * wvs;
                        if (nc == 4 && s == 2 && k == 5) {
                            carafeS2Tile4K5(ring, rows, first, packed, kb, wvs, dst, d0, rs, cs, tileSelf, selfScale, carafeScale);
                        } else if (nc == 4 && s == 2) {
                            carafeS2Tile4(ring, cStride, dw, rows, first, k, packed, kb, wvs, dst, d0, rs, cs, tileSelf, selfScale, carafeScale);
                        } else if (nc == 4 && k == 3) {
                            carafeS1Tile4K3(ring, cStride, dw, rows, first, packed, kb, wvs, dst, d0, rs, cs, tileSelf, selfFromRing, selfScale, carafeScale);
                        } else if (nc == 4) {
                            carafeS1Tile4(ring, cStride, dw, rows, first, k, packed, kb, wvs, dst, d0, rs, cs, tileSelf, selfScale, carafeScale);
                        } else {
                            for (int cc = 0; cc < nc; cc++) carafeTile1(ring, cc * cStride, dw, rows, first, k, s, packed, kb, wvs, res, 2 * cc * wvs);
                        }
                        for (int cc = 0; cc < nc; cc++) {
                            for (int i = 0; i < 2 && y0 + i < H; i++) {
                                int o = (b * C + c + cc) * outPlane + (y0 + i) * W + x0, ro = (2 * cc + i) * wvs;
                                // the finished row: in out, or (no out) in the L1 rows
                                float[] fin = out != null ? out : rowsOut;
                                int fo = out != null ? o : ro;
                                if (!direct) combineRow(res, ro, self, o, selfScale, carafeScale, fin, fo, width);
                                if (sum != null) addRow(fin, fo, addend, o, sum, o, width);     // while the row is in L1
                                if (padded != null) {
                                    int r0 = (b * C + c + cc) * padPlane + (y0 + i + 1) * 2 * pe;
                                    for (int X = 0; X < width; X += 2 * L) toEvenOddChunk(fin, fo + X, padded, r0, pe, x0 + X);
                                }
                            }
                        }
                    }
                }
                if (normalised != null) {
                    // the item's band is complete in every channel: normalise its rows while they are in cache
                    int b = item / (bands * strips), band = (item / strips) % bands, x0 = item % strips * sw;
                    normalisePairs(out, b, C, H, W, band * pairs / bands, (band + 1) * pairs / bands, x0, Math.min(sw, W - x0),
                            hamming, mask, normalised);
                }
            }
        }

        @Override
        void clear() {
            x = null;
            packed = null;
            self = null;
            out = null;
            addend = null;
            sum = null;
            padded = null;
            hamming = null;
            mask = null;
            normalised = null;
        }
    }

    private static final ThreadBuffer<float[]> SOURCE_ROWS_HR = ThreadBuffer.floats();

    /** Whether {@link #carafeFinal} takes these shapes: 4-channel blocks, whole vectors per row, the default kernels. */
    static boolean carafeFinalFits(int C, int w, int kl, int kh) {
        return C % 4 == 0 && (2 * w) % L == 0 && kl == 5 && kh == 3;
    }

    /**
     * The module's two last reassemblies in one pass: lrOut = CARAFE(xl, K_l, 5, s=2) and hrOut = hrSelfScale xh -
     * CARAFE(xh, K_h, 3, s=1), both (B, C, 2h, 2w), and with sum non-null also sum = hrOut + lrOut. Each work unit (4
     * channels x a band of row pairs) runs both tiles per pair from two rings, so the compute-bound s = 2 tile and
     * the memory-bound s = 1 pass (X_h read, hr_out written) overlap on each core, and the level sum reads both rows
     * from L1 instead of reading lr_out back from memory. With sum non-null, lrOut or hrOut may be null (an output
     * nobody asked for): its rows are then made in a per-thread L1 buffer and only the sum is written. Same tiles and
     * arithmetic as {@link #carafe}: identical values. Needs {@link #carafeFinalFits}.
     */
    static void carafeFinal(Parallel par, float[] xl, float[] xh, int B, int C, int h, int w, float[] kpL, float[] kpH,
                            float hrSelfScale, float[] lrOut, float[] hrOut, float[] sum) {
        if (!carafeFinalFits(C, w, 5, 3)) throw new IllegalArgumentException("carafeFinal: C % 4 and 2 w % " + L + " must be 0");
        int H = 2 * h, W = 2 * w, wv = W, pairs = h, outPlane = H * W, lrPlane = h * w;
        int sw = Math.min(stripWidth(2, 5), stripWidth(1, 3)), strips = (W + sw - 1) / sw;
        int pairKL = 25 * 2 * wv, pairKH = 9 * 2 * wv;
        int bands = bands(par, pairs, Math.max(1, Math.min(pairs, KERNEL_BAND_BYTES / (4 * (pairKL + pairKH)))), false);
        int blocks = C / 4;
        CarafeFinalTask carafeFinal = CARAFE_FINAL.get();
        carafeFinal.xl = xl; carafeFinal.xh = xh; carafeFinal.kpL = kpL; carafeFinal.kpH = kpH;
        carafeFinal.lrOut = lrOut; carafeFinal.hrOut = hrOut; carafeFinal.sum = sum; carafeFinal.C = C;
        carafeFinal.h = h; carafeFinal.w = w; carafeFinal.H = H; carafeFinal.W = W; carafeFinal.wv = wv;
        carafeFinal.pairs = pairs; carafeFinal.outPlane = outPlane; carafeFinal.lrPlane = lrPlane;
        carafeFinal.sw = sw; carafeFinal.strips = strips;
        carafeFinal.pairKL = pairKL; carafeFinal.pairKH = pairKH;
        carafeFinal.bands = bands; carafeFinal.blocks = blocks; carafeFinal.hrSelfScale = hrSelfScale;
        par.run(B * bands * strips * blocks, carafeFinal);
    }

    private static final ThreadLocal<CarafeFinalTask> CARAFE_FINAL = ThreadLocal.withInitial(CarafeFinalTask::new);

    /** {@link #carafeFinal}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class CarafeFinalTask extends Parallel.Task {
        float[] xl, xh, kpL, kpH, lrOut, hrOut, sum;
        int C, h, w, H, W, wv, pairs, outPlane, lrPlane, sw, strips, pairKL, pairKH, bands, blocks;
        float hrSelfScale;

        @Override
        public void run(int from, int to) {
            float[] xl = this.xl, xh = this.xh, kpL = this.kpL, kpH = this.kpH, lrOut = this.lrOut, hrOut = this.hrOut;
            float[] sum = this.sum;
            int C = this.C, h = this.h, w = this.w, H = this.H, W = this.W, wv = this.wv, pairs = this.pairs;
            int outPlane = this.outPlane, lrPlane = this.lrPlane, sw = this.sw, strips = this.strips;
            int pairKL = this.pairKL, pairKH = this.pairKH;
            int bands = this.bands, blocks = this.blocks;
            float hrSelfScale = this.hrSelfScale;
            float[] ringL = SOURCE_ROWS.get(4 * RING_K5S2 + 2 * L), ringH = SOURCE_ROWS_HR.get(4 * RING_K3S1 + 2 * L);
            // an output nobody asked for (a level's hr_out or lr_out when only the sum is wanted) is made in L1 rows
            float[] rowsL = lrOut == null ? FINISHED_ROWS_LR.get(8 * W) : lrOut, rowsH = hrOut == null ? FINISHED_ROWS.get(8 * W) : hrOut;
            int csL = lrOut == null ? 2 * W : outPlane, csH = hrOut == null ? 2 * W : outPlane;   // rows W apart either way
            java.util.Arrays.fill(ringL, 0, 4 * RING_K5S2 + 2 * L, 0f);
            java.util.Arrays.fill(ringH, 0, 4 * RING_K3S1 + 2 * L, 0f);
            for (int item = from; item < to; item++) {
                int b = item / (bands * strips * blocks), band = (item / (strips * blocks)) % bands;
                int x0 = (item / blocks) % strips * sw, c = (item % blocks) * 4, width = Math.min(sw, W - x0);
                int p0 = band * pairs / bands, p1 = (band + 1) * pairs / bands;
                int nextL = Integer.MIN_VALUE, nextH = Integer.MIN_VALUE;   // the first source rows not yet in the rings
                for (int p = p0; p < p1; p++) {
                    int y0 = 2 * p, syL = p - 2, syH = y0 - 1;
                    nextL = advanceRing(xl, (b * C + c) * lrPlane, lrPlane, h, w, 2, 5, 4, syL, nextL, ringL, RING_ROW, x0, width, strips > 1);
                    nextH = advanceRing(xh, (b * C + c) * outPlane, outPlane, H, W, 1, 3, 4, syH, nextH, ringH, RING_ROW, x0, width, strips > 1);
                    int d0 = (b * C + c) * outPlane + y0 * W + x0, dL = lrOut == null ? x0 : d0, dH = hrOut == null ? x0 : d0;
                    int kL = (b * pairs + p) * pairKL + x0 / L * 25 * 2 * L, kH = (b * pairs + p) * pairKH + x0 / L * 9 * 2 * L;
                    carafeS2Tile4K5(ringL, 5, Math.floorMod(syL, 5), kpL, kL, width, rowsL, dL, W, csL, null, 0f, 1f);
                    carafeS1Tile4K3(ringH, RING_K3S1, RING_ROW, 4, Math.floorMod(syH, 4), kpH, kH, width, rowsH, dH, W, csH, xh, true, hrSelfScale, -1f);
                    if (sum != null) {
                        for (int cc = 0; cc < 4; cc++) {
                            for (int i = 0; i < 2; i++) {
                                addRow(rowsH, dH + cc * csH + i * W, rowsL, dL + cc * csL + i * W, sum, d0 + cc * outPlane + i * W, width);
                            }
                        }
                    }
                }
            }
        }

        @Override
        void clear() {
            xl = null;
            xh = null;
            kpL = null;
            kpH = null;
            lrOut = null;
            hrOut = null;
            sum = null;
        }
    }

    /** Source rows a pair of output rows reads (the ring's rows per channel): k for s = 2, k + 1 for s = 1. */
    private static int ringRows(int s, int k) { return s == 2 ? k : k + 1; }

    /**
     * Brings the ring of nc channels (planes of x from plane0, inPlane apart; ring rows of dw floats, a channel's rows
     * together) up to date for a pair whose source rows
     * are sy0 .. sy0 + rows - 1, for the strip of output columns x0 .. x0 + width - 1: copies in those from
     * max(sy0, next) on (the others are still there from the previous pair) and returns the first source row not yet
     * in the ring.
     */
    private static int advanceRing(float[] x, int plane0, int inPlane, int h, int w, int s, int k, int nc, int sy0, int next,
                                   float[] ring, int dw, int x0, int width, boolean strips) {
        int rows = ringRows(s, k), r = (k - 1) / 2, cStride = rows * dw;
        for (int sy = Math.max(sy0, next); sy < sy0 + rows; sy++) {
            int slot = Math.floorMod(sy, rows) * dw;
            for (int cc = 0; cc < nc; cc++) loadSourceRow(x, plane0 + cc * inPlane, h, w, s, r, sy, ring, cc * cStride + slot, x0, width, strips);
        }
        return sy0 + rows;
    }

    /**
     * Fills the ring row at dOff for output columns x0 .. x0 + width - 1 (x0 a multiple of s) from source row sy of one
     * channel plane: ring float i holds source column x0 / s - r + i, zero where that column or the row lies outside
     * the image (its taps are dropped). For s = 2 too each value is stored once: the tiles make both output columns of
     * a source column from one load (see {@link #carafeS2Tile4K5}). The zeros left and right of the image are written
     * only when the image has several column strips: with one, the ring is zeroed once per call and its pads never get
     * values (two small fills per row would cost ~20 % of an s = 1 reassembly: it copies ~16 K rows at W2).
     */
    private static void loadSourceRow(float[] x, int plane, int h, int w, int s, int r, int sy, float[] d, int dOff, int x0, int width,
                                      boolean strips) {
        int c0 = x0 / s - r, c1 = c0 + width / s + 2 * r;      // the row's source columns [c0, c1)
        int a = Math.max(c0, 0), e = Math.min(c1, w);
        if (sy < 0 || sy >= h) {
            java.util.Arrays.fill(d, dOff, dOff + (c1 - c0), 0f);
            return;
        }
        if (strips) {
            java.util.Arrays.fill(d, dOff, dOff + (a - c0), 0f);                   // left of the image
            java.util.Arrays.fill(d, dOff + (e - c0), dOff + (c1 - c0), 0f);       // right of it
        }
        copyRow(x, plane + sy * w + a, d, dOff + (a - c0), e - a);
    }

    /**
     * dst[d .. d + n) = src[s .. s + n): whole vectors by vector loads and stores, the rest by arraycopy. For the
     * kernels' short row copies into their rings (64 floats per row at W2's HR, ~16 K rows per reassembly), where
     * arraycopy's call and dispatch cost more than the 4 vector moves: X_h's pass took 0.83-0.91 and CARAFE(X_l)
     * 0.96 of its time with arraycopy (bench/ab-kernel.sh, W2, same values).
     */
    private static void copyRow(float[] src, int s, float[] dst, int d, int n) {
        int i = 0;
        for (; i <= n - L; i += L) FloatVector.fromArray(S, src, s + i).intoArray(dst, d + i);
        if (i < n) System.arraycopy(src, s + i, dst, d + i, n - i);
    }

    /** Lane i takes lane i / 2: each of the low half's source columns for the two output columns it makes at s = 2. */
    private static final jdk.incubator.vector.VectorShuffle<Float> DUP_LO = jdk.incubator.vector.VectorShuffle.fromOp(S, i -> i / 2);

    // The tiles are separate small methods with every vector a local, so that C2 keeps the accumulators in
    // registers (a vector passed to a call that is not inlined is boxed). Ring row j of the pair is slot
    // (first + j) mod rows. Results go to res[d0 + c cs + i rs + X] (channel c, row i of the pair); when self is
    // non-null, res is out and the tile then applies out = selfScale self + carafeScale CARAFE over its rows
    // (residualRows, while they are in L1; in-process A/B against the same arithmetic on the accumulators before
    // the stores: X_l 1.00, X_h 1.00-1.01 at W2, all reassemblies 0.94-0.95 at W3). The exception is the k = 3, s = 1
    // tile when self is the source itself (X_h, P_h): self's rows are then in the ring, and the residual is taken
    // from there on the accumulators (X_h's pass 0.85-0.92: no read of self from memory).

    /**
     * s = 2, four channels x the pair's two output rows (Y, Y+1), 2 L output columns per step: both rows read the same
     * source rows, and a vector of L source columns makes 2 L output columns of each, its even and its odd ones. The
     * pair-packed kernel's vectors (L output columns) are split into their even and odd columns (two two-input
     * shuffles per row and tap, shared by the four channels), each source vector loaded feeds its channel's four
     * (row, column parity) accumulators, and the parities are interleaved back as they are stored: per tap 4 kernel
     * and 4 source loads and 4 shuffles for 16 FMAs, where a ring of spread source rows (every value twice, the form
     * until 2026-12-01) took 6 loads, mostly across cache lines, per 8 FMAs: 0.84-0.87 of its time per FMA on L1 rows
     * (microbenchmark at 64 and 128 output columns). A last vector of L output columns is made from its L / 2 source
     * columns duplicated ({@link #carafeS2Tail4}).
     */
    private static void carafeS2Tile4(float[] d, int cStride, int dw, int rows, int first, int k, float[] kr, int kb, int wv, float[] res, int d0, int rs, int cs,
                                        float[] self, float selfScale, float carafeScale) {
        int taps2 = k * k * 2 * L, c2 = 2 * cStride, c3 = 3 * cStride;   // taps2: a vector of output columns' kernel
        int X = 0, kv = kb;
        for (; X + 2 * L <= wv; X += 2 * L, kv += 2 * taps2) {
            FloatVector z = FloatVector.zero(S);
            FloatVector a000 = z, a001 = z, a010 = z, a011 = z, a100 = z, a101 = z, a110 = z, a111 = z;
            FloatVector a200 = z, a201 = z, a210 = z, a211 = z, a300 = z, a301 = z, a310 = z, a311 = z;
            for (int ky = 0, slot = first; ky < k; ky++, slot = slot + 1 == rows ? 0 : slot + 1) {
                int row = slot * dw + X / 2, kt = kv + ky * k * 2 * L;
                for (int kx = 0; kx < k; kx++, row++, kt += 2 * L) {
                    FloatVector lo0 = FloatVector.fromArray(S, kr, kt), hi0 = FloatVector.fromArray(S, kr, kt + taps2);
                    FloatVector lo1 = FloatVector.fromArray(S, kr, kt + L), hi1 = FloatVector.fromArray(S, kr, kt + taps2 + L);
                    FloatVector k00 = lo0.rearrange(EVENS, hi0), k01 = lo0.rearrange(ODDS, hi0);
                    FloatVector k10 = lo1.rearrange(EVENS, hi1), k11 = lo1.rearrange(ODDS, hi1);
                    FloatVector v = FloatVector.fromArray(S, d, row);
                    a000 = v.fma(k00, a000); a001 = v.fma(k01, a001); a010 = v.fma(k10, a010); a011 = v.fma(k11, a011);
                    v = FloatVector.fromArray(S, d, row + cStride);
                    a100 = v.fma(k00, a100); a101 = v.fma(k01, a101); a110 = v.fma(k10, a110); a111 = v.fma(k11, a111);
                    v = FloatVector.fromArray(S, d, row + c2);
                    a200 = v.fma(k00, a200); a201 = v.fma(k01, a201); a210 = v.fma(k10, a210); a211 = v.fma(k11, a211);
                    v = FloatVector.fromArray(S, d, row + c3);
                    a300 = v.fma(k00, a300); a301 = v.fma(k01, a301); a310 = v.fma(k10, a310); a311 = v.fma(k11, a311);
                }
            }
            int o = d0 + X;
            a000.rearrange(ZIP_LO, a001).intoArray(res, o); a000.rearrange(ZIP_HI, a001).intoArray(res, o + L);
            a010.rearrange(ZIP_LO, a011).intoArray(res, o + rs); a010.rearrange(ZIP_HI, a011).intoArray(res, o + rs + L);
            o += cs;
            a100.rearrange(ZIP_LO, a101).intoArray(res, o); a100.rearrange(ZIP_HI, a101).intoArray(res, o + L);
            a110.rearrange(ZIP_LO, a111).intoArray(res, o + rs); a110.rearrange(ZIP_HI, a111).intoArray(res, o + rs + L);
            o += cs;
            a200.rearrange(ZIP_LO, a201).intoArray(res, o); a200.rearrange(ZIP_HI, a201).intoArray(res, o + L);
            a210.rearrange(ZIP_LO, a211).intoArray(res, o + rs); a210.rearrange(ZIP_HI, a211).intoArray(res, o + rs + L);
            o += cs;
            a300.rearrange(ZIP_LO, a301).intoArray(res, o); a300.rearrange(ZIP_HI, a301).intoArray(res, o + L);
            a310.rearrange(ZIP_LO, a311).intoArray(res, o + rs); a310.rearrange(ZIP_HI, a311).intoArray(res, o + rs + L);
        }
        if (X < wv) carafeS2Tail4(d, cStride, dw, rows, first, k, kr, kv, X, res, d0, rs, cs);
        if (self != null) residualRows(res, d0, rs, cs, wv, self, selfScale, carafeScale);
    }

    /**
     * The last vector of output columns X .. X + L - 1 of an s = 2 four-channel tile whose width is an odd number of
     * vectors: its L / 2 source columns, each duplicated, times the kernel vectors as they are packed (same taps in
     * the same order as the full steps).
     */
    private static void carafeS2Tail4(float[] d, int cStride, int dw, int rows, int first, int k, float[] kr, int kv, int X,
                                      float[] res, int d0, int rs, int cs) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int ky = 0, slot = first; ky < k; ky++, slot = slot + 1 == rows ? 0 : slot + 1) {
            int row = slot * dw + X / 2, kt = kv + ky * k * 2 * L;
            for (int kx = 0; kx < k; kx++, row++, kt += 2 * L) {
                FloatVector k0 = FloatVector.fromArray(S, kr, kt), k1 = FloatVector.fromArray(S, kr, kt + L);
                FloatVector v = FloatVector.fromArray(S, d, row).rearrange(DUP_LO);
                a00 = v.fma(k0, a00); a01 = v.fma(k1, a01);
                v = FloatVector.fromArray(S, d, row + cStride).rearrange(DUP_LO);
                a10 = v.fma(k0, a10); a11 = v.fma(k1, a11);
                v = FloatVector.fromArray(S, d, row + 2 * cStride).rearrange(DUP_LO);
                a20 = v.fma(k0, a20); a21 = v.fma(k1, a21);
                v = FloatVector.fromArray(S, d, row + 3 * cStride).rearrange(DUP_LO);
                a30 = v.fma(k0, a30); a31 = v.fma(k1, a31);
            }
        }
        int o = d0 + X;
        a00.intoArray(res, o);
        a01.intoArray(res, o + rs);
        a10.intoArray(res, o + cs);
        a11.intoArray(res, o + cs + rs);
        a20.intoArray(res, o + 2 * cs);
        a21.intoArray(res, o + 2 * cs + rs);
        a30.intoArray(res, o + 3 * cs);
        a31.intoArray(res, o + 3 * cs + rs);
    }

    /**
     * {@link #carafeS2Tile4} for k = 5 (the default low-pass kernel), same arithmetic in the same order, with the ring
     * geometry a compile-time constant (the 4 channels are constant displacements off one register; see
     * {@link #RING_ROW}) and the five tap rows' ring offsets worked out once per call, so that the loop over the
     * row's vectors carries no ring arithmetic (a ky loop with the ring's wrap had C2 spill the loop's values and
     * redo bases and range checks per tap row, seen in C2's code; all 25 taps unrolled ran 1.7x slower, the loads
     * hoisted and spilled). Its body repeats the generic tile's on purpose: a helper taking the 16 accumulators would
     * box them, and k = 5 through the generic tile read 1.05 at W2 and 0.99 at W3 (in-process A/B, 2026-12-01).
     */
    private static void carafeS2Tile4K5(float[] d, int rows, int first, float[] kr, int kb, int wv, float[] res, int d0, int rs, int cs,
                                        float[] self, float selfScale, float carafeScale) {
        final int taps2 = 25 * 2 * L;
        final int cStride = RING_K5S2, c2 = 2 * RING_K5S2, c3 = 3 * RING_K5S2;
        int s1 = first + 1 == rows ? 0 : first + 1, s2 = s1 + 1 == rows ? 0 : s1 + 1;
        int s3 = s2 + 1 == rows ? 0 : s2 + 1, s4 = s3 + 1 == rows ? 0 : s3 + 1;
        int r0 = first * RING_ROW, r1 = s1 * RING_ROW, r2 = s2 * RING_ROW, r3 = s3 * RING_ROW, r4 = s4 * RING_ROW;
        int X = 0, kv = kb;
        for (; X + 2 * L <= wv; X += 2 * L, kv += 2 * taps2) {
            FloatVector z = FloatVector.zero(S);
            FloatVector a000 = z, a001 = z, a010 = z, a011 = z, a100 = z, a101 = z, a110 = z, a111 = z;
            FloatVector a200 = z, a201 = z, a210 = z, a211 = z, a300 = z, a301 = z, a310 = z, a311 = z;
            for (int ky = 0; ky < 5; ky++) {
                int rb = (ky == 0 ? r0 : ky == 1 ? r1 : ky == 2 ? r2 : ky == 3 ? r3 : r4) + X / 2;
                for (int kx = 0; kx < 5; kx++) {
                    int row = rb + kx, kt = kv + (5 * ky + kx) * 2 * L;
                    FloatVector lo0 = FloatVector.fromArray(S, kr, kt), hi0 = FloatVector.fromArray(S, kr, kt + taps2);
                    FloatVector lo1 = FloatVector.fromArray(S, kr, kt + L), hi1 = FloatVector.fromArray(S, kr, kt + taps2 + L);
                    FloatVector k00 = lo0.rearrange(EVENS, hi0), k01 = lo0.rearrange(ODDS, hi0);
                    FloatVector k10 = lo1.rearrange(EVENS, hi1), k11 = lo1.rearrange(ODDS, hi1);
                    FloatVector v = FloatVector.fromArray(S, d, row);
                    a000 = v.fma(k00, a000); a001 = v.fma(k01, a001); a010 = v.fma(k10, a010); a011 = v.fma(k11, a011);
                    v = FloatVector.fromArray(S, d, row + cStride);
                    a100 = v.fma(k00, a100); a101 = v.fma(k01, a101); a110 = v.fma(k10, a110); a111 = v.fma(k11, a111);
                    v = FloatVector.fromArray(S, d, row + c2);
                    a200 = v.fma(k00, a200); a201 = v.fma(k01, a201); a210 = v.fma(k10, a210); a211 = v.fma(k11, a211);
                    v = FloatVector.fromArray(S, d, row + c3);
                    a300 = v.fma(k00, a300); a301 = v.fma(k01, a301); a310 = v.fma(k10, a310); a311 = v.fma(k11, a311);
                }
            }
            int o = d0 + X;
            a000.rearrange(ZIP_LO, a001).intoArray(res, o); a000.rearrange(ZIP_HI, a001).intoArray(res, o + L);
            a010.rearrange(ZIP_LO, a011).intoArray(res, o + rs); a010.rearrange(ZIP_HI, a011).intoArray(res, o + rs + L);
            o += cs;
            a100.rearrange(ZIP_LO, a101).intoArray(res, o); a100.rearrange(ZIP_HI, a101).intoArray(res, o + L);
            a110.rearrange(ZIP_LO, a111).intoArray(res, o + rs); a110.rearrange(ZIP_HI, a111).intoArray(res, o + rs + L);
            o += cs;
            a200.rearrange(ZIP_LO, a201).intoArray(res, o); a200.rearrange(ZIP_HI, a201).intoArray(res, o + L);
            a210.rearrange(ZIP_LO, a211).intoArray(res, o + rs); a210.rearrange(ZIP_HI, a211).intoArray(res, o + rs + L);
            o += cs;
            a300.rearrange(ZIP_LO, a301).intoArray(res, o); a300.rearrange(ZIP_HI, a301).intoArray(res, o + L);
            a310.rearrange(ZIP_LO, a311).intoArray(res, o + rs); a310.rearrange(ZIP_HI, a311).intoArray(res, o + rs + L);
        }
        if (X < wv) carafeS2Tail4(d, RING_K5S2, RING_ROW, rows, first, 5, kr, kv, X, res, d0, rs, cs);
        if (self != null) residualRows(res, d0, rs, cs, wv, self, selfScale, carafeScale);
    }

    /**
     * s = 1, four channels x the pair's output rows (Y, Y+1): ring row j is tap row j of row Y and tap row j - 1 of
     * row Y+1, so each source vector loaded feeds both rows where both use it.
     */
    private static void carafeS1Tile4(float[] d, int cStride, int dw, int rows, int first, int k, float[] kr, int kb, int wv, float[] res, int d0, int rs, int cs,
                                        float[] self, float selfScale, float carafeScale) {
        int tapRow = k * 2 * L;                        // kernel floats per tap row (k taps, 2 rows each)
        for (int X = 0, kv = kb; X < wv; X += L, kv += k * k * 2 * L) {
            FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            // ring row 0: tap row 0 of row Y only
            for (int kx = 0, row = first * dw + X, kt = kv; kx < k; kx++, row++, kt += 2 * L) {
                FloatVector k0 = FloatVector.fromArray(S, kr, kt);
                a00 = FloatVector.fromArray(S, d, row).fma(k0, a00);
                a10 = FloatVector.fromArray(S, d, row + cStride).fma(k0, a10);
                a20 = FloatVector.fromArray(S, d, row + 2 * cStride).fma(k0, a20);
                a30 = FloatVector.fromArray(S, d, row + 3 * cStride).fma(k0, a30);
            }
            // ring rows 1 .. k-1: tap row j of row Y and tap row j - 1 of row Y+1, each source vector loaded once
            int slot = first + 1 == rows ? 0 : first + 1;
            for (int j = 1; j < k; j++, slot = slot + 1 == rows ? 0 : slot + 1) {
                for (int kx = 0, row = slot * dw + X, k0t = kv + j * tapRow, k1t = kv + (j - 1) * tapRow + L; kx < k;
                     kx++, row++, k0t += 2 * L, k1t += 2 * L) {
                    FloatVector k0 = FloatVector.fromArray(S, kr, k0t), k1 = FloatVector.fromArray(S, kr, k1t);
                    FloatVector v = FloatVector.fromArray(S, d, row);
                    a00 = v.fma(k0, a00);
                    a01 = v.fma(k1, a01);
                    v = FloatVector.fromArray(S, d, row + cStride);
                    a10 = v.fma(k0, a10);
                    a11 = v.fma(k1, a11);
                    v = FloatVector.fromArray(S, d, row + 2 * cStride);
                    a20 = v.fma(k0, a20);
                    a21 = v.fma(k1, a21);
                    v = FloatVector.fromArray(S, d, row + 3 * cStride);
                    a30 = v.fma(k0, a30);
                    a31 = v.fma(k1, a31);
                }
            }
            // ring row k: tap row k - 1 of row Y+1 only
            for (int kx = 0, row = slot * dw + X, kt = kv + (k - 1) * tapRow + L; kx < k; kx++, row++, kt += 2 * L) {
                FloatVector k1 = FloatVector.fromArray(S, kr, kt);
                a01 = FloatVector.fromArray(S, d, row).fma(k1, a01);
                a11 = FloatVector.fromArray(S, d, row + cStride).fma(k1, a11);
                a21 = FloatVector.fromArray(S, d, row + 2 * cStride).fma(k1, a21);
                a31 = FloatVector.fromArray(S, d, row + 3 * cStride).fma(k1, a31);
            }
            int o = d0 + X;
            a00.intoArray(res, o);
            a01.intoArray(res, o + rs);
            a10.intoArray(res, o + cs);
            a11.intoArray(res, o + cs + rs);
            a20.intoArray(res, o + 2 * cs);
            a21.intoArray(res, o + 2 * cs + rs);
            a30.intoArray(res, o + 3 * cs);
            a31.intoArray(res, o + 3 * cs + rs);
        }
        if (self != null) residualRows(res, d0, rs, cs, wv, self, selfScale, carafeScale);
    }

    /**
     * {@link #carafeS1Tile4} for k = 3 (the default high-pass kernel) with the taps of a ring row unrolled: C2 keeps
     * the offsets in the addressing modes and needs no inner loop.
     */
    private static void carafeS1Tile4K3(float[] d, int cStride, int dw, int rows, int first, float[] kr, int kb, int wv, float[] res, int d0, int rs, int cs,
                                        float[] self, boolean selfInRing, float selfScale, float carafeScale) {
        int t2 = 2 * L, tapRow = 3 * t2, c2 = 2 * cStride, c3 = 3 * cStride;
        int s0 = first * dw, s1 = (first + 1) % rows * dw, s2 = (first + 2) % rows * dw, s3 = (first + 3) % rows * dw;
        boolean ringResidual = self != null && selfInRing;
        FloatVector ss = FloatVector.broadcast(S, selfScale);
        for (int X = 0, kv = kb; X < wv; X += L, kv += 9 * 2 * L) {
            FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            // ring row 0: tap row 0 of row Y
            for (int kx = 0; kx < 3; kx++) {
                int row = s0 + X + kx;
                FloatVector k0 = FloatVector.fromArray(S, kr, kv + kx * t2);
                a00 = FloatVector.fromArray(S, d, row).fma(k0, a00);
                a10 = FloatVector.fromArray(S, d, row + cStride).fma(k0, a10);
                a20 = FloatVector.fromArray(S, d, row + c2).fma(k0, a20);
                a30 = FloatVector.fromArray(S, d, row + c3).fma(k0, a30);
            }
            // ring rows 1, 2: tap row j of row Y, tap row j - 1 of row Y+1
            for (int j = 1; j < 3; j++) {
                int sj = j == 1 ? s1 : s2;
                for (int kx = 0; kx < 3; kx++) {
                    int row = sj + X + kx, k0t = kv + j * tapRow + kx * t2, k1t = kv + (j - 1) * tapRow + L + kx * t2;
                    FloatVector k0 = FloatVector.fromArray(S, kr, k0t), k1 = FloatVector.fromArray(S, kr, k1t);
                    FloatVector v = FloatVector.fromArray(S, d, row);
                    a00 = v.fma(k0, a00);
                    a01 = v.fma(k1, a01);
                    v = FloatVector.fromArray(S, d, row + cStride);
                    a10 = v.fma(k0, a10);
                    a11 = v.fma(k1, a11);
                    v = FloatVector.fromArray(S, d, row + c2);
                    a20 = v.fma(k0, a20);
                    a21 = v.fma(k1, a21);
                    v = FloatVector.fromArray(S, d, row + c3);
                    a30 = v.fma(k0, a30);
                    a31 = v.fma(k1, a31);
                }
            }
            // ring row 3: tap row 2 of row Y+1
            for (int kx = 0; kx < 3; kx++) {
                int row = s3 + X + kx;
                FloatVector k1 = FloatVector.fromArray(S, kr, kv + 2 * tapRow + L + kx * t2);
                a01 = FloatVector.fromArray(S, d, row).fma(k1, a01);
                a11 = FloatVector.fromArray(S, d, row + cStride).fma(k1, a11);
                a21 = FloatVector.fromArray(S, d, row + c2).fma(k1, a21);
                a31 = FloatVector.fromArray(S, d, row + c3).fma(k1, a31);
            }
            if (ringResidual) {
                // the residual from the ring's centre taps (the source is self: its rows Y and Y+1 are ring rows 1 and
                // 2), in registers: no second pass over the output rows and no read of self from memory
                int m0 = s1 + X + 1, m1 = s2 + X + 1;
                a00 = FloatVector.fromArray(S, d, m0).fma(ss, a00.mul(carafeScale));
                a01 = FloatVector.fromArray(S, d, m1).fma(ss, a01.mul(carafeScale));
                a10 = FloatVector.fromArray(S, d, m0 + cStride).fma(ss, a10.mul(carafeScale));
                a11 = FloatVector.fromArray(S, d, m1 + cStride).fma(ss, a11.mul(carafeScale));
                a20 = FloatVector.fromArray(S, d, m0 + c2).fma(ss, a20.mul(carafeScale));
                a21 = FloatVector.fromArray(S, d, m1 + c2).fma(ss, a21.mul(carafeScale));
                a30 = FloatVector.fromArray(S, d, m0 + c3).fma(ss, a30.mul(carafeScale));
                a31 = FloatVector.fromArray(S, d, m1 + c3).fma(ss, a31.mul(carafeScale));
            }
            int o = d0 + X;
            a00.intoArray(res, o);
            a01.intoArray(res, o + rs);
            a10.intoArray(res, o + cs);
            a11.intoArray(res, o + cs + rs);
            a20.intoArray(res, o + 2 * cs);
            a21.intoArray(res, o + 2 * cs + rs);
            a30.intoArray(res, o + 3 * cs);
            a31.intoArray(res, o + 3 * cs + rs);
        }
        if (self != null && !selfInRing) residualRows(res, d0, rs, cs, wv, self, selfScale, carafeScale);
    }

    /**
     * res[p] = selfScale self[p] + carafeScale res[p] for the rows a 4-channel tile just wrote (p = o + c cs + i rs + X,
     * c < 4, i < 2, X < width): the residual where the tile does not take self from its ring (Z_l and Z_h, whose self
     * is the HR logits; s = 1 with k other than 3), applied while the rows are in L1.
     */
    private static void residualRows(float[] res, int o, int rs, int cs, int width, float[] self, float selfScale, float carafeScale) {
        FloatVector ss = FloatVector.broadcast(S, selfScale);
        for (int c = 0; c < 4; c++) {
            for (int i = 0; i < 2; i++) {
                for (int X = 0, p = o + c * cs + i * rs; X < width; X += L, p += L) {
                    FloatVector.fromArray(S, self, p).fma(ss, FloatVector.fromArray(S, res, p).mul(carafeScale)).intoArray(res, p);
                }
            }
        }
    }

    /** One channel x the pair's two output rows (channel counts that are not a multiple of 4), either scale. */
    private static void carafeTile1(float[] d, int d0, int dw, int rows, int first, int k, int s, float[] kr, int kb, int wv,
                                    float[] res, int r0) {
        for (int X = 0, kv = kb; X < wv; X += L, kv += k * k * 2 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0;
            for (int ky = 0, slot = first; ky < k; ky++, slot = slot + 1 == rows ? 0 : slot + 1) {
                if (s == 2) {
                    // both rows read the same ring row, whose source columns X / 2 .. make output columns X .. twice
                    for (int kx = 0, row = d0 + slot * dw + X / 2, kt = kv + ky * k * 2 * L; kx < k; kx++, row++, kt += 2 * L) {
                        FloatVector v = FloatVector.fromArray(S, d, row).rearrange(DUP_LO);
                        a0 = v.fma(FloatVector.fromArray(S, kr, kt), a0);
                        a1 = v.fma(FloatVector.fromArray(S, kr, kt + L), a1);
                    }
                    continue;
                }
                // row Y+1 reads one ring row lower
                int lowerSlot = slot + 1 == rows ? 0 : slot + 1;
                int row0 = d0 + slot * dw + X, row1 = d0 + lowerSlot * dw + X, kt = kv + ky * k * 2 * L;
                for (int kx = 0; kx < k; kx++, row0++, row1++, kt += 2 * L) {
                    a0 = FloatVector.fromArray(S, d, row0).fma(FloatVector.fromArray(S, kr, kt), a0);
                    a1 = FloatVector.fromArray(S, d, row1).fma(FloatVector.fromArray(S, kr, kt + L), a1);
                }
            }
            a0.intoArray(res, r0 + X);
            a1.intoArray(res, r0 + X + wv);
        }
    }

    /** out[o + X] = selfScale self[so + X] + carafeScale res[ro + X] for X < W (self may be null). */
    private static void combineRow(float[] res, int ro, float[] self, int so, float selfScale, float carafeScale, float[] out, int o, int W) {
        FloatVector ss = FloatVector.broadcast(S, selfScale);
        for (int X = 0; X < W; X += L) {
            boolean full = X + L <= W;
            VectorMask<Float> m = S.indexInRange(X, W);
            FloatVector v = FloatVector.fromArray(S, res, ro + X).mul(carafeScale);
            if (self != null) v = (full ? FloatVector.fromArray(S, self, so + X) : FloatVector.fromArray(S, self, so + X, m)).fma(ss, v);
            if (full) v.intoArray(out, o + X);
            else v.intoArray(out, o + X, m);
        }
    }

    // exp on whole vectors from exactly rounded operations only (Cephes' expf: Cody-Waite reduction by ln 2, a
    // polynomial, 2^n from the exponent bits; ~1 ulp), so that a forward's result does not depend on the JIT:
    // VectorOperators.EXP may be 1 ulp off and its compiled (SVML) and interpreted forms disagreed in 162 of 4096
    // lanes, which changed masks in the last bit between a cold and a warm run of the same request (and made an
    // exact-equality test flaky). With Horner's scheme it cost the normaliser ~12 % (in-process A/B), ~0.5 % of a
    // forward; Estrin's scheme (below) runs in 0.89 of that time, about what the polynomial had cost. Below EXP_MIN
    // (e^-87.33 ~ 1.2e-38) inputs are clamped: such a tap's weight is zero next to the maximum's 1 either way.
    private static final float EXP_MIN = -87.33f, LOG2E = 1.44269504088896341f, EXP_ROUND = 12582912f;   // 1.5 2^23
    /** The bits of EXP_ROUND: those of EXP_ROUND + n are EXP_ROUND_BITS + n for |n| < 2^22. */
    private static final int EXP_ROUND_BITS = 0x4B400000;
    private static final float EXP_LN2_HI = 0.693359375f, EXP_LN2_LO = -2.12194440e-4f;
    private static final float EXP_P0 = 1.9875691500e-4f, EXP_P1 = 1.3981999507e-3f, EXP_P2 = 8.3334519073e-3f,
            EXP_P3 = 4.1665795894e-2f, EXP_P4 = 1.6666665459e-1f, EXP_P5 = 5.0000001201e-1f;

    /**
     * The kernel normaliser (softmax x Hamming window, renormalised) of taps rows of logits in place: tap t of the
     * pixels X .. X + L - 1 at buf[off + (X / L) vStride + 2 L t], X < width (a multiple of L): the pair-packed layout.
     * Whole vectors only, no masks and no calls: this is the one method a C2 compile must keep fully intrinsic (a
     * masked, called variant was once left running as interpreted-grade code for a whole process, 4.6 MB allocated per
     * forward). The taps' stride is a constant and each tap loop's index the loop counter times it, so that C2 takes
     * the bounds checks out of the tap loops (with a stride passed in, each tap kept its checks).
     */
    private static void normaliseInPlace(float[] buf, int off, int taps, float[] hamming, int width, int vStride) {
        final int tapStride = 2 * L;
        boolean window = hamming.length > 1;
        FloatVector ln2Hi = FloatVector.broadcast(S, -EXP_LN2_HI), p2 = FloatVector.broadcast(S, EXP_P2);
        FloatVector p3 = FloatVector.broadcast(S, EXP_P3), p4 = FloatVector.broadcast(S, EXP_P4), p5 = FloatVector.broadcast(S, EXP_P5);
        for (int X = 0, o0 = off; X < width; X += L, o0 += vStride) {
            // maxima and the clamp below by compare and blend: Java's max (NaN first, -0 below +0) is five instructions
            // on AVX2, this two (normaliser 0.89-0.95 in in-process A/Bs). Same kernels bit for bit, edge values
            // included: a NaN logit still makes its pixel's sum, so every tap, NaN, and a maximum of -0 instead of +0
            // changes no x - mx that exp can tell apart
            FloatVector mx = FloatVector.fromArray(S, buf, o0);
            for (int t = 1; t < taps; t++) {
                FloatVector v = FloatVector.fromArray(S, buf, o0 + t * tapStride);
                mx = mx.blend(v, v.compare(VectorOperators.GT, mx));
            }
            FloatVector sum = FloatVector.zero(S);
            for (int t = 0; t < taps; t++) {
                int o = o0 + t * tapStride;
                FloatVector x = FloatVector.fromArray(S, buf, o).sub(mx);
                // exp(x), x <= 0, from exactly rounded operations only (see EXP_* above)
                x = x.blend(EXP_MIN, x.compare(VectorOperators.LT, EXP_MIN));
                FloatVector nr = x.fma(LOG2E, EXP_ROUND), n = nr.sub(EXP_ROUND);                  // round(x / ln 2)
                FloatVector r = n.fma(ln2Hi, x).add(n.mul(-EXP_LN2_LO));                // x - n ln 2
                // Estrin's scheme (r^2 once, three independent pairs): a shorter dependency chain than Horner's, whose
                // ~50-cycle chain per tap left the FP scheduler full (normaliser 0.93-0.94 in an in-process A/B); 2^n
                // from the bits of x log2(e) + 1.5 2^23 (its low mantissa bits are n) instead of a float-to-int
                // conversion with Java's saturation fix-ups (with Estrin 0.89)
                FloatVector r2 = r.mul(r);
                FloatVector q = r.fma(EXP_P0, EXP_P1).fma(r2, r.fma(p2, p3)).fma(r2, r.fma(p4, p5));
                FloatVector scale = ((IntVector) nr.reinterpretAsInts()).add(127 - EXP_ROUND_BITS)
                        .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();        // 2^n
                FloatVector e = q.fma(r2, r).add(1f).mul(scale).mul(window ? hamming[t] : hamming[0]);
                e.intoArray(buf, o);
                sum = sum.add(e);
            }
            FloatVector inv = FloatVector.broadcast(S, 1f).div(sum);
            for (int t = 0; t < taps; t++) {
                int o = o0 + t * tapStride;
                FloatVector.fromArray(S, buf, o).mul(inv).intoArray(buf, o);
            }
        }
    }

    // ------------------------------------------------------------------ offset-guided resampling

    private static final ThreadBuffer<int[]> SAMPLE_INDEX = ThreadBuffer.ints();
    private static final ThreadBuffer<float[]> SAMPLE_WEIGHT = ThreadBuffer.floats();
    private static final ThreadBuffer<boolean[]> SAMPLE_RUN = ThreadBuffer.booleans();

    /**
     * Both samplers' table, per output row item = (b, g, Y) of (B, groups, 2h) and X < wv = vectorWidth(2w) (lanes past
     * the row repeat its last pixel): the four neighbours' pixel indices in the plane, border-clamped, times unit (q:
     * top-left, top-right, bottom-left, bottom-right) and the x and y weights. Rows for the gathers (unit 1): index q
     * at idx[item 4 wv + q wv + X], weights at wgt[item 2 wv + X] and wgt[item 2 wv + wv + X]; per vector of L
     * pixels for the blocked sampler (unit L, floats per pixel of its plane): for X = X0 + l (X0 a multiple of L)
     * idx[item 4 wv + 4 X0 + q L + l], wgt[item 2 wv + 2 X0 + l] and [.. + L] (one stream instead of six: the blocked
     * sampler took 0.93 of its time with the rows), made a vector of L columns at a time ({@link #sampleRowBlocked}).
     * With consecutive non-null,
     * per vector of L pixels whether all its 4 x L neighbours are runs of consecutive pixels (plain loads then do for
     * gathers; rows only); with lastRow non-null, the last source row the output row reads.
     */
    private static void sampleTable(Parallel par, float[] delta, int B, int groups, int h, int w, int unit, int[] idx, float[] wgt,
                                    boolean[] consecutive, int[] lastRow) {
        int H = 2 * h, W = 2 * w, q8 = 8 * groups, wv = vectorWidth(W), rowInts = 4 * wv, rowFloats = 2 * wv;
        boolean rows = unit == 1;
        int qs = rows ? wv : L, ys = rows ? wv : L;   // strides: corner, y weight
        SampleTableTask sampleTable = SAMPLE_TABLE.get();
        sampleTable.delta = delta; sampleTable.wgt = wgt; sampleTable.idx = idx; sampleTable.lastRow = lastRow;
        sampleTable.consecutive = consecutive; sampleTable.groups = groups; sampleTable.h = h; sampleTable.w = w;
        sampleTable.unit = unit; sampleTable.H = H; sampleTable.W = W; sampleTable.q8 = q8; sampleTable.wv = wv;
        sampleTable.rowInts = rowInts; sampleTable.rowFloats = rowFloats; sampleTable.qs = qs; sampleTable.ys = ys;
        par.run(B * groups * H, sampleTable);
    }

    private static final ThreadLocal<SampleTableTask> SAMPLE_TABLE = ThreadLocal.withInitial(SampleTableTask::new);

    private static final VectorSpecies<Integer> SI = S.withLanes(int.class);
    private static final jdk.incubator.vector.VectorShuffle<Integer> ZIP_LO_I = jdk.incubator.vector.VectorShuffle.fromOp(SI, i -> (i & 1) * L + i / 2);
    private static final jdk.incubator.vector.VectorShuffle<Integer> ZIP_HI_I = jdk.incubator.vector.VectorShuffle.fromOp(SI, i -> (i & 1) * L + L / 2 + i / 2);
    private static final FloatVector IOTA = FloatVector.fromArray(S, iota(), 0);

    private static float[] iota() {
        float[] a = new float[L];
        for (int i = 0; i < L; i++) a[i] = i;
        return a;
    }

    /**
     * The blocked sampler's table for output row (y, i) of one group, source columns 0 .. w / L L - 1 (pixels X < 2 w / L
     * L), a vector of L source columns at a time: both column parities j (the offsets' phases, planes hw apart from dx0
     * and dy0) as vectors over the source columns, then interleaved into pixel order. The same operations in the same
     * order as the per-pixel form (so the same values). The conversions are convertShape with the species named and the
     * result cast: an I2F convert() passed on as a Vector<Float> was left to the interpreter's boxed form (688 bytes
     * per call in a microbenchmark). Returns the last source row the pixels read.
     */
    private static int sampleRowBlocked(float[] delta, int dx0, int dy0, int hw, int y, int w, int h, int unit, int[] idx, int io,
                                        float[] wgt, int wo) {
        int W = 2 * w, H = 2 * h;
        FloatVector fy = FloatVector.broadcast(S, y + 0.5f);
        IntVector last = IntVector.zero(SI);
        for (int x = 0; x + L <= w; x += L) {
            FloatVector fx = IOTA.add((float) x).add(0.5f);
            FloatVector ix0 = fx.add(FloatVector.fromArray(S, delta, dx0 + x)).mul(2f).sub(0.5f).max(0f).min(W - 1);
            FloatVector ix1 = fx.add(FloatVector.fromArray(S, delta, dx0 + hw + x)).mul(2f).sub(0.5f).max(0f).min(W - 1);
            FloatVector iy0 = fy.add(FloatVector.fromArray(S, delta, dy0 + x)).mul(2f).sub(0.5f).max(0f).min(H - 1);
            FloatVector iy1 = fy.add(FloatVector.fromArray(S, delta, dy0 + hw + x)).mul(2f).sub(0.5f).max(0f).min(H - 1);
            IntVector x0 = (IntVector) ix0.convertShape(VectorOperators.F2I, SI, 0);
            IntVector x1 = (IntVector) ix1.convertShape(VectorOperators.F2I, SI, 0);
            IntVector y0 = (IntVector) iy0.convertShape(VectorOperators.F2I, SI, 0);
            IntVector y1 = (IntVector) iy1.convertShape(VectorOperators.F2I, SI, 0);
            // pixel order: X = 2 x + j, so the first L pixels are the zipped low halves, the next L the high halves
            int X0 = 2 * x, k = io + 4 * X0, q = wo + 2 * X0;
            IntVector p0 = y0.mul(W).add(x0), p1 = y1.mul(W).add(x1);
            IntVector r0 = ((IntVector) x0.add(1).compare(VectorOperators.LT, W).toVector()).neg();   // 1 where x0 + 1 < W
            IntVector r1 = ((IntVector) x1.add(1).compare(VectorOperators.LT, W).toVector()).neg();
            IntVector b0 = ((IntVector) y0.add(1).compare(VectorOperators.LT, H).toVector()).neg().mul(W);
            IntVector b1 = ((IntVector) y1.add(1).compare(VectorOperators.LT, H).toVector()).neg().mul(W);
            // the corners (q = 0 .. 3: +0, +right, +below, +below+right), each zipped into the two blocks' rows (not
            // through a helper: one compiled on its own would take its vectors boxed)
            IntVector e = p0.mul(unit), o = p1.mul(unit);
            e.rearrange(ZIP_LO_I, o).intoArray(idx, k);
            e.rearrange(ZIP_HI_I, o).intoArray(idx, k + 4 * L);
            e = p0.add(r0).mul(unit);
            o = p1.add(r1).mul(unit);
            e.rearrange(ZIP_LO_I, o).intoArray(idx, k + L);
            e.rearrange(ZIP_HI_I, o).intoArray(idx, k + 5 * L);
            p0 = p0.add(b0);
            p1 = p1.add(b1);
            e = p0.mul(unit);
            o = p1.mul(unit);
            e.rearrange(ZIP_LO_I, o).intoArray(idx, k + 2 * L);
            e.rearrange(ZIP_HI_I, o).intoArray(idx, k + 6 * L);
            e = p0.add(r0).mul(unit);
            o = p1.add(r1).mul(unit);
            e.rearrange(ZIP_LO_I, o).intoArray(idx, k + 3 * L);
            e.rearrange(ZIP_HI_I, o).intoArray(idx, k + 7 * L);
            FloatVector wx0 = ix0.sub((FloatVector) x0.convertShape(VectorOperators.I2F, S, 0)), wx1 = ix1.sub((FloatVector) x1.convertShape(VectorOperators.I2F, S, 0));
            FloatVector wy0 = iy0.sub((FloatVector) y0.convertShape(VectorOperators.I2F, S, 0)), wy1 = iy1.sub((FloatVector) y1.convertShape(VectorOperators.I2F, S, 0));
            wx0.rearrange(ZIP_LO, wx1).intoArray(wgt, q);
            wy0.rearrange(ZIP_LO, wy1).intoArray(wgt, q + L);
            wx0.rearrange(ZIP_HI, wx1).intoArray(wgt, q + 2 * L);
            wy0.rearrange(ZIP_HI, wy1).intoArray(wgt, q + 3 * L);
            last = last.max(y0.add(1).min(H - 1)).max(y1.add(1).min(H - 1));
        }
        return last.reduceLanes(VectorOperators.MAX);
    }

    /** {@link #sampleTable}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class SampleTableTask extends Parallel.Task {
        float[] delta, wgt;
        int[] idx, lastRow;
        boolean[] consecutive;
        int groups, h, w, unit, H, W, q8, wv, rowInts, rowFloats, qs, ys;

        @Override
        public void run(int from, int to) {
            float[] delta = this.delta, wgt = this.wgt;
            int[] idx = this.idx, lastRow = this.lastRow;
            boolean[] consecutive = this.consecutive;
            int groups = this.groups, h = this.h, w = this.w, unit = this.unit, H = this.H, W = this.W, q8 = this.q8;
            int wv = this.wv, rowInts = this.rowInts, rowFloats = this.rowFloats, qs = this.qs, ys = this.ys;
            boolean blocked = unit != 1;
            for (int item = from; item < to; item++) {
                int b = item / (groups * H), g = (item / H) % groups, Y = item % H;
                int y = Y >> 1, i = Y & 1, io = item * rowInts, wo = item * rowFloats, last = 0;
                int dx0 = (b * q8 + g * 4 + i * 2) * h * w + y * w, dy0 = dx0 + 4 * groups * h * w;   // phase j = 0 at (y, 0)
                // the blocked table a vector of L source columns (2 L pixels) at a time, then the rest pixel by pixel
                int X1 = blocked ? 2 * (w / L * L) : 0;
                if (blocked) last = sampleRowBlocked(delta, dx0, dy0, h * w, y, w, h, unit, idx, io, wgt, wo);
                for (int X = X1; X < wv; X++) {
                    int x = Math.min(X, W - 1) >> 1, j = Math.min(X, W - 1) & 1;
                    float dx = delta[dx0 + j * h * w + x];
                    float dy = delta[dy0 + j * h * w + x];
                    float ix = Math.min(Math.max(2f * (x + 0.5f + dx) - 0.5f, 0f), W - 1);
                    float iy = Math.min(Math.max(2f * (y + 0.5f + dy) - 0.5f, 0f), H - 1);
                    int x0 = (int) ix, y0 = (int) iy;
                    // the blocked layout keeps each vector of L pixels' 4 L indices (2 L weights) together
                    int blockStart = blocked ? X & -L : 0;
                    int p = y0 * W + x0, right = x0 + 1 < W ? 1 : 0, below = y0 + 1 < H ? W : 0;
                    int k = io + X + 3 * blockStart, q = wo + X + blockStart;
                    idx[k] = unit * p;
                    idx[k + qs] = unit * (p + right);
                    idx[k + 2 * qs] = unit * (p + below);
                    idx[k + 3 * qs] = unit * (p + below + right);
                    wgt[q] = ix - x0;
                    wgt[q + ys] = iy - y0;
                    last = Math.max(last, below == 0 ? y0 : y0 + 1);
                }
                if (lastRow != null) lastRow[item] = last;
                if (consecutive == null) continue;
                // A vector whose 4 x L neighbours are consecutive pixels (offsets whose integer parts agree across the
                // vector: always at the reference init, common for smooth learned offsets) is read with plain loads.
                for (int X = 0; X < wv; X += L) {
                    boolean run = true;
                    for (int q = 0; q < 4 && run; q++) {
                        int first = idx[io + q * wv + X];
                        for (int l = 1; l < L && run; l++) run = idx[io + q * wv + X + l] == first + l;
                    }
                    consecutive[item * (wv / L) + X / L] = run;
                }
            }
        }

        @Override
        void clear() {
            delta = null;
            wgt = null;
            idx = null;
            lastRow = null;
            consecutive = null;
        }
    }

    /**
     * Bilinear border sampling of f (B, C, 2h, 2w) at the offsets delta (B, 8G, h, w) (see CpuKernels#gridSampleBorder).
     * First the four neighbour indices and two weights of every output pixel, per offset group (the group's channels
     * share them); then each channel plane is sampled row by row, top to bottom, gathering a vector of pixels at a
     * time. Channel-major order keeps the reads of a plane close together and in order: sampled row by row across
     * all channels, every row would miss the cache.
     */
    static void gridSampleBorder(Parallel par, float[] f, float[] delta, int B, int C, int groups, int h, int w, float[] out) {
        int H = 2 * h, W = 2 * w, cpg = C / groups, plane = H * W, wv = vectorWidth(W);
        int rowInts = 4 * wv, rowFloats = 2 * wv;
        int[] idx = SAMPLE_INDEX.get(B * groups * H * rowInts);
        float[] wgt = SAMPLE_WEIGHT.get(B * groups * H * rowFloats);
        boolean[] consecutive = SAMPLE_RUN.get(B * groups * H * (wv / L));
        sampleTable(par, delta, B, groups, h, w, 1, idx, wgt, consecutive, null);
        GridSampleTask gridSample = GRID_SAMPLE.get();
        gridSample.f = f; gridSample.wgt = wgt; gridSample.out = out; gridSample.idx = idx;
        gridSample.consecutive = consecutive; gridSample.C = C; gridSample.groups = groups; gridSample.H = H;
        gridSample.W = W; gridSample.cpg = cpg; gridSample.plane = plane; gridSample.wv = wv;
        gridSample.rowInts = rowInts; gridSample.rowFloats = rowFloats;
        par.run(B * C, gridSample);
    }

    private static final ThreadLocal<GridSampleTask> GRID_SAMPLE = ThreadLocal.withInitial(GridSampleTask::new);

    /** {@link #gridSampleBorder}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class GridSampleTask extends Parallel.Task {
        float[] f, wgt, out;
        int[] idx;
        boolean[] consecutive;
        int C, groups, H, W, cpg, plane, wv, rowInts, rowFloats;

        @Override
        public void run(int from, int to) {
            float[] f = this.f, wgt = this.wgt, out = this.out;
            int[] idx = this.idx;
            boolean[] consecutive = this.consecutive;
            int C = this.C, groups = this.groups, H = this.H, W = this.W, cpg = this.cpg, plane = this.plane;
            int wv = this.wv, rowInts = this.rowInts, rowFloats = this.rowFloats;
            for (int bc = from; bc < to; bc++) {
                int b = bc / C, g = (bc % C) / cpg, p0 = bc * plane;
                for (int Y = 0; Y < H; Y++) {
                    int item = (b * groups + g) * H + Y;
                    sampleRow(f, p0, idx, item * rowInts, wgt, item * rowFloats, wv, consecutive, item * (wv / L), out, p0 + Y * W, W);
                }
            }
        }

        @Override
        void clear() {
            f = null;
            wgt = null;
            out = null;
            idx = null;
            consecutive = null;
        }
    }

    private static void sampleRow(float[] f, int p0, int[] idx, int io, float[] wgt, int wo, int wv, boolean[] consecutive, int co,
                                  float[] out, int dst, int W) {
        for (int X = 0; X < W; X += L) {
            FloatVector ax = FloatVector.fromArray(S, wgt, wo + X), ay = FloatVector.fromArray(S, wgt, wo + wv + X);
            FloatVector v00, v01, v10, v11;
            if (consecutive[co + X / L]) {
                v00 = FloatVector.fromArray(S, f, p0 + idx[io + X]);
                v01 = FloatVector.fromArray(S, f, p0 + idx[io + wv + X]);
                v10 = FloatVector.fromArray(S, f, p0 + idx[io + 2 * wv + X]);
                v11 = FloatVector.fromArray(S, f, p0 + idx[io + 3 * wv + X]);
            } else {
                v00 = FloatVector.fromArray(S, f, p0, idx, io + X);
                v01 = FloatVector.fromArray(S, f, p0, idx, io + wv + X);
                v10 = FloatVector.fromArray(S, f, p0, idx, io + 2 * wv + X);
                v11 = FloatVector.fromArray(S, f, p0, idx, io + 3 * wv + X);
            }
            FloatVector top = v01.sub(v00).fma(ax, v00), bot = v11.sub(v10).fma(ax, v10);
            FloatVector v = bot.sub(top).fma(ay, top);
            if (X + L <= W) v.intoArray(out, dst + X);
            else v.intoArray(out, dst + X, S.indexInRange(X, W));
        }
    }

    /**
     * delta = O sigmoid(D) + init_pos (see CpuKernels#combineOffsets). Items are (batch, offset channel c, row parity
     * i); the two column parities j are made together from whole HR rows, split into even and odd columns. The
     * sigmoid uses the normaliser's exp (exactly rounded operations only), on e^-|D| so that its argument is <= 0;
     * a row's tail past the last whole vector takes the same formula in scalars.
     */
    static void combineOffsets(Parallel par, float[] lrConv, float[] hrConv, float[] initPos, int B, int groups, int h, int w,
                               float[] delta) {
        int q8 = 8 * groups, H = 2 * h, W = 2 * w, n = h * w, lrScaleOff = q8 * n, hrScaleOff = 2 * groups * H * W;
        int whole = w / L * L;
        CombineOffsetsTask combineOffsets = COMBINE_OFFSETS.get();
        combineOffsets.lrConv = lrConv; combineOffsets.hrConv = hrConv; combineOffsets.initPos = initPos;
        combineOffsets.delta = delta; combineOffsets.groups = groups; combineOffsets.h = h; combineOffsets.w = w;
        combineOffsets.q8 = q8; combineOffsets.H = H; combineOffsets.W = W; combineOffsets.n = n;
        combineOffsets.lrScaleOff = lrScaleOff; combineOffsets.hrScaleOff = hrScaleOff; combineOffsets.whole = whole;
        par.run(B * 2 * groups * 2, combineOffsets);
    }

    private static final ThreadLocal<CombineOffsetsTask> COMBINE_OFFSETS = ThreadLocal.withInitial(CombineOffsetsTask::new);

    /** {@link #combineOffsets}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class CombineOffsetsTask extends Parallel.Task {
        float[] lrConv, hrConv, initPos, delta;
        int groups, h, w, q8, H, W, n, lrScaleOff, hrScaleOff, whole;

        @Override
        public void run(int from, int to) {
            float[] lrConv = this.lrConv, hrConv = this.hrConv, initPos = this.initPos, delta = this.delta;
            int groups = this.groups, h = this.h, w = this.w, q8 = this.q8, H = this.H, W = this.W, n = this.n;
            int lrScaleOff = this.lrScaleOff, hrScaleOff = this.hrScaleOff, whole = this.whole;
            FloatVector ln2Hi = FloatVector.broadcast(S, -EXP_LN2_HI), p2 = FloatVector.broadcast(S, EXP_P2);
            FloatVector p3 = FloatVector.broadcast(S, EXP_P3), p4 = FloatVector.broadcast(S, EXP_P4), p5 = FloatVector.broadcast(S, EXP_P5);
            for (int item = from; item < to; item++) {
                int b = item / (4 * groups), c = (item / 2) % (2 * groups), i = item % 2;
                for (int j = 0; j < 2; j++) {
                    int q = c * 4 + i * 2 + j;
                    int lrBase = (b * 2 * q8 + q) * n, dBase = (b * q8 + q) * n, hrBase = (b * 4 * groups + c) * H * W + i * W + j;
                    float pos = initPos[q];
                    FloatVector posV = FloatVector.broadcast(S, pos);
                    for (int y = 0; y < h; y++) {
                        int lp = lrBase + y * w, dp = dBase + y * w, hp = hrBase + 2 * y * W;
                        for (int x = 0; x < whole; x += L) {
                            FloatVector oa = FloatVector.fromArray(S, hrConv, hp - j + 2 * x), ob = FloatVector.fromArray(S, hrConv, hp - j + 2 * x + L);
                            FloatVector sa = FloatVector.fromArray(S, hrConv, hp - j + hrScaleOff + 2 * x);
                            FloatVector sb = FloatVector.fromArray(S, hrConv, hp - j + hrScaleOff + 2 * x + L);
                            FloatVector hrO = j == 0 ? oa.rearrange(EVENS, ob) : oa.rearrange(ODDS, ob);
                            FloatVector hrD = j == 0 ? sa.rearrange(EVENS, sb) : sa.rearrange(ODDS, sb);
                            FloatVector o = FloatVector.fromArray(S, lrConv, lp + x).add(hrO);
                            FloatVector d = FloatVector.fromArray(S, lrConv, lp + lrScaleOff + x).add(hrD);
                            // e = exp(-|d|) as in normaliseInPlace; sigmoid(d) = 1 / (1 + e) for d >= 0, e / (1 + e) below
                            FloatVector xe = d.abs().neg().max(EXP_MIN);
                            FloatVector nr = xe.fma(LOG2E, EXP_ROUND), nn = nr.sub(EXP_ROUND);
                            FloatVector r = nn.fma(ln2Hi, xe).add(nn.mul(-EXP_LN2_LO));
                            FloatVector r2 = r.mul(r);
                            FloatVector poly = r.fma(EXP_P0, EXP_P1).fma(r2, r.fma(p2, p3)).fma(r2, r.fma(p4, p5));
                            FloatVector scale = ((IntVector) nr.reinterpretAsInts()).add(127 - EXP_ROUND_BITS)
                                    .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                            FloatVector e = poly.fma(r2, r).add(1f).mul(scale);
                            FloatVector sig = FloatVector.broadcast(S, 1f).blend(e, d.compare(VectorOperators.LT, 0f)).div(e.add(1f));
                            o.fma(sig, posV).intoArray(delta, dp + x);
                        }
                        for (int x = whole; x < w; x++) {
                            float o = lrConv[lp + x] + hrConv[hp + 2 * x], d = lrConv[lp + lrScaleOff + x] + hrConv[hp + hrScaleOff + 2 * x];
                            delta[dp + x] = o * sigmoid(d) + pos;
                        }
                    }
                }
            }
        }

        @Override
        void clear() {
            lrConv = null;
            hrConv = null;
            initPos = null;
            delta = null;
        }
    }

    /** The vector path's sigmoid in scalars: the same exp(-|d|) polynomial, rounding constant and reassembly. */
    private static float sigmoid(float d) {
        float xe = Math.max(-Math.abs(d), EXP_MIN);
        float nr = Math.fma(xe, LOG2E, EXP_ROUND), nn = nr - EXP_ROUND;
        float r = Math.fma(nn, -EXP_LN2_HI, xe) + nn * -EXP_LN2_LO;
        float r2 = r * r;
        float poly = Math.fma(Math.fma(Math.fma(r, EXP_P0, EXP_P1), r2, Math.fma(r, EXP_P2, EXP_P3)), r2, Math.fma(r, EXP_P4, EXP_P5));
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(nr) + 127 - EXP_ROUND_BITS) << 23);
        float e = Math.fma(poly, r2, r) + 1f;
        e *= scale;
        return (d < 0f ? e : 1f) / (e + 1f);
    }

    // ------------------------------------------------------------------ channel-blocked resampling

    /*
     * The sampler's four neighbours of an output pixel are the same for every channel of its offset group, but in
     * channel-major planes each lands at an arbitrary place: 4 gathers per vector of output pixels (~2.5 ns per output
     * value at W3 here). With the source in blocks of L channels (a vector's lanes), each block channel-last, a neighbour's
     * L channels are one plain load: per output pixel 4 loads and 3 FMAs, then an L x L transpose in registers puts L
     * pixels of L channels back into the output planes. (Channel-last over all channels measured slower than blocks: a row's
     * neighbours then span megabytes instead of a block plane's few rows.)
     */

    /*
     * The blocks are L channels (the one vector species of this class, so that the Vector API's shared call sites see
     * one vector class: with a second species in use, as the 256-bit sampler's on an AVX-512 machine once, C2 compiled
     * some kernels with their vectors boxed, 4 to 87 MB allocated per forward). Transposes by rounds of swapping blocks
     * of b = 1, 2, 4 (, 8) lanes between rows i and i + b, each a lane rotation and a blend.
     */
    private static final jdk.incubator.vector.VectorShuffle<Float> UP1 = rotation(-1), UP2 = rotation(-2), UP4 = rotation(-4),
            UP8 = rotation(-8), DOWN1 = rotation(1), DOWN2 = rotation(2), DOWN4 = rotation(4), DOWN8 = rotation(8);
    private static final VectorMask<Float> ODD1 = lanesWithBit(1), ODD2 = lanesWithBit(2), ODD4 = lanesWithBit(4), ODD8 = lanesWithBit(8);
    private static final ThreadBuffer<float[]> SAMPLE_TILE = ThreadBuffer.floats();

    /** Lane i takes lane (i + by) mod L. */
    private static jdk.incubator.vector.VectorShuffle<Float> rotation(int by) {
        return jdk.incubator.vector.VectorShuffle.fromOp(S, i -> Math.floorMod(i + by, L));
    }

    /** The lanes whose index has the given bit set. */
    private static VectorMask<Float> lanesWithBit(int bit) {
        long lanes = 0;
        for (int i = 0; i < L; i++) if ((i & bit) != 0) lanes |= 1L << i;
        return VectorMask.fromLong(S, lanes);
    }

    /** Whether the blocked sampler applies: 8 or 16 lanes (256- or 512-bit vectors) and whole L-channel blocks per group. */
    static boolean blockedSampling(int C, int groups) {
        return (L == 8 || L == 16) && C % groups == 0 && (C / groups) % L == 0;
    }

    /** dst[d0 + c ds + r] = src[s0 + r ss + c] for r, c < L (L = 8 or 16; C2 folds the test). */
    static void transpose(float[] src, int s0, int ss, float[] dst, int d0, int ds) {
        if (L == 16) transpose16(src, s0, ss, dst, d0, ds);
        else transpose8(src, s0, ss, dst, d0, ds);
    }

    private static void transpose8(float[] src, int s0, int ss, float[] dst, int d0, int ds) {
        FloatVector r0 = FloatVector.fromArray(S, src, s0), r1 = FloatVector.fromArray(S, src, s0 + ss);
        FloatVector r2 = FloatVector.fromArray(S, src, s0 + 2 * ss), r3 = FloatVector.fromArray(S, src, s0 + 3 * ss);
        FloatVector r4 = FloatVector.fromArray(S, src, s0 + 4 * ss), r5 = FloatVector.fromArray(S, src, s0 + 5 * ss);
        FloatVector r6 = FloatVector.fromArray(S, src, s0 + 6 * ss), r7 = FloatVector.fromArray(S, src, s0 + 7 * ss);
        FloatVector t0 = r0.blend(r1.rearrange(UP1), ODD1), t1 = r0.rearrange(DOWN1).blend(r1, ODD1);
        FloatVector t2 = r2.blend(r3.rearrange(UP1), ODD1), t3 = r2.rearrange(DOWN1).blend(r3, ODD1);
        FloatVector t4 = r4.blend(r5.rearrange(UP1), ODD1), t5 = r4.rearrange(DOWN1).blend(r5, ODD1);
        FloatVector t6 = r6.blend(r7.rearrange(UP1), ODD1), t7 = r6.rearrange(DOWN1).blend(r7, ODD1);
        FloatVector u0 = t0.blend(t2.rearrange(UP2), ODD2), u2 = t0.rearrange(DOWN2).blend(t2, ODD2);
        FloatVector u1 = t1.blend(t3.rearrange(UP2), ODD2), u3 = t1.rearrange(DOWN2).blend(t3, ODD2);
        FloatVector u4 = t4.blend(t6.rearrange(UP2), ODD2), u6 = t4.rearrange(DOWN2).blend(t6, ODD2);
        FloatVector u5 = t5.blend(t7.rearrange(UP2), ODD2), u7 = t5.rearrange(DOWN2).blend(t7, ODD2);
        u0.blend(u4.rearrange(UP4), ODD4).intoArray(dst, d0);
        u1.blend(u5.rearrange(UP4), ODD4).intoArray(dst, d0 + ds);
        u2.blend(u6.rearrange(UP4), ODD4).intoArray(dst, d0 + 2 * ds);
        u3.blend(u7.rearrange(UP4), ODD4).intoArray(dst, d0 + 3 * ds);
        u0.rearrange(DOWN4).blend(u4, ODD4).intoArray(dst, d0 + 4 * ds);
        u1.rearrange(DOWN4).blend(u5, ODD4).intoArray(dst, d0 + 5 * ds);
        u2.rearrange(DOWN4).blend(u6, ODD4).intoArray(dst, d0 + 6 * ds);
        u3.rearrange(DOWN4).blend(u7, ODD4).intoArray(dst, d0 + 7 * ds);
    }

    private static void transpose16(float[] src, int s0, int ss, float[] dst, int d0, int ds) {
        FloatVector r0 = FloatVector.fromArray(S, src, s0), r1 = FloatVector.fromArray(S, src, s0 + ss);
        FloatVector r2 = FloatVector.fromArray(S, src, s0 + 2 * ss), r3 = FloatVector.fromArray(S, src, s0 + 3 * ss);
        FloatVector r4 = FloatVector.fromArray(S, src, s0 + 4 * ss), r5 = FloatVector.fromArray(S, src, s0 + 5 * ss);
        FloatVector r6 = FloatVector.fromArray(S, src, s0 + 6 * ss), r7 = FloatVector.fromArray(S, src, s0 + 7 * ss);
        FloatVector r8 = FloatVector.fromArray(S, src, s0 + 8 * ss), r9 = FloatVector.fromArray(S, src, s0 + 9 * ss);
        FloatVector r10 = FloatVector.fromArray(S, src, s0 + 10 * ss), r11 = FloatVector.fromArray(S, src, s0 + 11 * ss);
        FloatVector r12 = FloatVector.fromArray(S, src, s0 + 12 * ss), r13 = FloatVector.fromArray(S, src, s0 + 13 * ss);
        FloatVector r14 = FloatVector.fromArray(S, src, s0 + 14 * ss), r15 = FloatVector.fromArray(S, src, s0 + 15 * ss);
        FloatVector t0 = r0.blend(r1.rearrange(UP1), ODD1), t1 = r0.rearrange(DOWN1).blend(r1, ODD1);
        FloatVector t2 = r2.blend(r3.rearrange(UP1), ODD1), t3 = r2.rearrange(DOWN1).blend(r3, ODD1);
        FloatVector t4 = r4.blend(r5.rearrange(UP1), ODD1), t5 = r4.rearrange(DOWN1).blend(r5, ODD1);
        FloatVector t6 = r6.blend(r7.rearrange(UP1), ODD1), t7 = r6.rearrange(DOWN1).blend(r7, ODD1);
        FloatVector t8 = r8.blend(r9.rearrange(UP1), ODD1), t9 = r8.rearrange(DOWN1).blend(r9, ODD1);
        FloatVector t10 = r10.blend(r11.rearrange(UP1), ODD1), t11 = r10.rearrange(DOWN1).blend(r11, ODD1);
        FloatVector t12 = r12.blend(r13.rearrange(UP1), ODD1), t13 = r12.rearrange(DOWN1).blend(r13, ODD1);
        FloatVector t14 = r14.blend(r15.rearrange(UP1), ODD1), t15 = r14.rearrange(DOWN1).blend(r15, ODD1);
        FloatVector u0 = t0.blend(t2.rearrange(UP2), ODD2), u2 = t0.rearrange(DOWN2).blend(t2, ODD2);
        FloatVector u1 = t1.blend(t3.rearrange(UP2), ODD2), u3 = t1.rearrange(DOWN2).blend(t3, ODD2);
        FloatVector u4 = t4.blend(t6.rearrange(UP2), ODD2), u6 = t4.rearrange(DOWN2).blend(t6, ODD2);
        FloatVector u5 = t5.blend(t7.rearrange(UP2), ODD2), u7 = t5.rearrange(DOWN2).blend(t7, ODD2);
        FloatVector u8 = t8.blend(t10.rearrange(UP2), ODD2), u10 = t8.rearrange(DOWN2).blend(t10, ODD2);
        FloatVector u9 = t9.blend(t11.rearrange(UP2), ODD2), u11 = t9.rearrange(DOWN2).blend(t11, ODD2);
        FloatVector u12 = t12.blend(t14.rearrange(UP2), ODD2), u14 = t12.rearrange(DOWN2).blend(t14, ODD2);
        FloatVector u13 = t13.blend(t15.rearrange(UP2), ODD2), u15 = t13.rearrange(DOWN2).blend(t15, ODD2);
        FloatVector v0 = u0.blend(u4.rearrange(UP4), ODD4), v4 = u0.rearrange(DOWN4).blend(u4, ODD4);
        FloatVector v1 = u1.blend(u5.rearrange(UP4), ODD4), v5 = u1.rearrange(DOWN4).blend(u5, ODD4);
        FloatVector v2 = u2.blend(u6.rearrange(UP4), ODD4), v6 = u2.rearrange(DOWN4).blend(u6, ODD4);
        FloatVector v3 = u3.blend(u7.rearrange(UP4), ODD4), v7 = u3.rearrange(DOWN4).blend(u7, ODD4);
        FloatVector v8 = u8.blend(u12.rearrange(UP4), ODD4), v12 = u8.rearrange(DOWN4).blend(u12, ODD4);
        FloatVector v9 = u9.blend(u13.rearrange(UP4), ODD4), v13 = u9.rearrange(DOWN4).blend(u13, ODD4);
        FloatVector v10 = u10.blend(u14.rearrange(UP4), ODD4), v14 = u10.rearrange(DOWN4).blend(u14, ODD4);
        FloatVector v11 = u11.blend(u15.rearrange(UP4), ODD4), v15 = u11.rearrange(DOWN4).blend(u15, ODD4);
        v0.blend(v8.rearrange(UP8), ODD8).intoArray(dst, d0);
        v1.blend(v9.rearrange(UP8), ODD8).intoArray(dst, d0 + ds);
        v2.blend(v10.rearrange(UP8), ODD8).intoArray(dst, d0 + 2 * ds);
        v3.blend(v11.rearrange(UP8), ODD8).intoArray(dst, d0 + 3 * ds);
        v4.blend(v12.rearrange(UP8), ODD8).intoArray(dst, d0 + 4 * ds);
        v5.blend(v13.rearrange(UP8), ODD8).intoArray(dst, d0 + 5 * ds);
        v6.blend(v14.rearrange(UP8), ODD8).intoArray(dst, d0 + 6 * ds);
        v7.blend(v15.rearrange(UP8), ODD8).intoArray(dst, d0 + 7 * ds);
        v0.rearrange(DOWN8).blend(v8, ODD8).intoArray(dst, d0 + 8 * ds);
        v1.rearrange(DOWN8).blend(v9, ODD8).intoArray(dst, d0 + 9 * ds);
        v2.rearrange(DOWN8).blend(v10, ODD8).intoArray(dst, d0 + 10 * ds);
        v3.rearrange(DOWN8).blend(v11, ODD8).intoArray(dst, d0 + 11 * ds);
        v4.rearrange(DOWN8).blend(v12, ODD8).intoArray(dst, d0 + 12 * ds);
        v5.rearrange(DOWN8).blend(v13, ODD8).intoArray(dst, d0 + 13 * ds);
        v6.rearrange(DOWN8).blend(v14, ODD8).intoArray(dst, d0 + 14 * ds);
        v7.rearrange(DOWN8).blend(v15, ODD8).intoArray(dst, d0 + 15 * ds);
    }

    private static final ThreadBuffer<float[]> SAMPLE_PLANE = ThreadBuffer.floats();
    private static final ThreadBuffer<int[]> SAMPLE_ROWS = ThreadBuffer.ints();

    /**
     * gridSampleBorder (same values, same layouts) for blockedSampling shapes; out may be f itself. First the samplers'
     * table (sampleTable: per output pixel and group the four neighbours and two weights), with the last source row
     * each output row reads; then per block of L channels, output row
     * by output row: the block's source rows copied channel-last into a per-thread plane just before the first output
     * row that reads them (L floats per pixel: a neighbour's L channels are one load; the rows in use stay in L1/L2,
     * where a whole-tensor channel-last copy goes through memory), then the row sampled into the block's output
     * planes. Output row Y is written only once source rows 0 .. max(Y, its last row) are copied, and only this item
     * reads the block's planes: in place is safe.
     */
    static void gridSampleBlocked(Parallel par, float[] f, float[] delta, int B, int C, int groups, int h, int w, float[] out) {
        int H = 2 * h, W = 2 * w, cpg = C / groups, plane = H * W, wv = vectorWidth(W), blocks = C / L;
        int[] idx = SAMPLE_INDEX.get(B * groups * H * 4 * wv), lastRow = SAMPLE_ROWS.get(B * groups * H);
        float[] wgt = SAMPLE_WEIGHT.get(B * groups * H * 2 * wv);
        sampleTable(par, delta, B, groups, h, w, L, idx, wgt, null, lastRow);
        GridSampleBlockedTask gridSampleBlocked = GRID_SAMPLE_BLOCKED.get();
        gridSampleBlocked.f = f; gridSampleBlocked.wgt = wgt; gridSampleBlocked.out = out; gridSampleBlocked.idx = idx;
        gridSampleBlocked.lastRow = lastRow; gridSampleBlocked.C = C; gridSampleBlocked.groups = groups;
        gridSampleBlocked.H = H; gridSampleBlocked.W = W; gridSampleBlocked.cpg = cpg; gridSampleBlocked.plane = plane;
        gridSampleBlocked.wv = wv; gridSampleBlocked.blocks = blocks;
        par.run(B * blocks, gridSampleBlocked);
    }

    private static final ThreadLocal<GridSampleBlockedTask> GRID_SAMPLE_BLOCKED = ThreadLocal.withInitial(GridSampleBlockedTask::new);

    /** {@link #gridSampleBlocked}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class GridSampleBlockedTask extends Parallel.Task {
        float[] f, wgt, out;
        int[] idx, lastRow;
        int C, groups, H, W, cpg, plane, wv, blocks;

        @Override
        public void run(int from, int to) {
            float[] f = this.f, wgt = this.wgt, out = this.out;
            int[] idx = this.idx, lastRow = this.lastRow;
            int C = this.C, groups = this.groups, H = this.H, W = this.W, cpg = this.cpg, plane = this.plane;
            int wv = this.wv, blocks = this.blocks;
            float[] tile = SAMPLE_TILE.get(L * L);
            float[] pb = SAMPLE_PLANE.get(L * plane);
            for (int bk = from; bk < to; bk++) {
                int b = bk / blocks, c = (bk % blocks) * L, g = c / cpg, planes = bk * L * plane;   // (b C + c) plane
                int copied = 0;     // rows of the block already in pb: each is copied just before the first row that reads it
                for (int Y = 0; Y < H; Y++) {
                    int item = (b * groups + g) * H + Y, io = item * 4 * wv, wo = item * 2 * wv, d = (b * C + c) * plane + Y * W;
                    // up to row Y too (it is overwritten next); a 0-based count: the copied <= need form trapped on
                    // C2's loop limit check (see SimilarityTask)
                    int rows = Math.max(lastRow[item], Y) + 1 - copied;
                    for (int r = 0; r < rows; r++, copied++) {
                        int p = copied * W, end = p + W;
                        for (; p + L <= end; p += L) transpose(f, planes + p, plane, pb, L * p, L);
                        for (; p < end; p++) {
                            for (int k = 0; k < L; k++) pb[L * p + k] = f[planes + k * plane + p];
                        }
                    }
                    for (int X0 = 0; X0 < W; X0 += L) {
                        for (int l = 0, k = io + 4 * X0, q = wo + 2 * X0; l < L; l++, k++, q++) {   // pixel X0 + l
                            FloatVector v00 = FloatVector.fromArray(S, pb, idx[k]), v01 = FloatVector.fromArray(S, pb, idx[k + L]);
                            FloatVector v10 = FloatVector.fromArray(S, pb, idx[k + 2 * L]), v11 = FloatVector.fromArray(S, pb, idx[k + 3 * L]);
                            FloatVector ax = FloatVector.broadcast(S, wgt[q]), ay = FloatVector.broadcast(S, wgt[q + L]);
                            FloatVector top = v01.sub(v00).fma(ax, v00), bot = v11.sub(v10).fma(ax, v10);
                            bot.sub(top).fma(ay, top).intoArray(tile, L * l);
                        }
                        int n = Math.min(L, W - X0);
                        if (n == L) {
                            transpose(tile, 0, L, out, d + X0, plane);
                        } else {
                            for (int k = 0; k < L; k++) for (int l = 0; l < n; l++) out[d + X0 + k * plane + l] = tile[L * l + k];
                        }
                    }
                }
            }
        }

        @Override
        void clear() {
            f = null;
            wgt = null;
            out = null;
            idx = null;
            lastRow = null;
        }
    }

    // ------------------------------------------------------------------ GroupNorm

    /**
     * GroupNorm(groups, C) with affine gamma/beta, eps 1e-5, biased variance (see CpuKernels#groupNorm). Mean and
     * variance per group in two vector passes (per-lane float partial sums, added up in double), then one pass
     * that normalises and applies the affine per channel.
     */
    static void groupNorm(Parallel par, float[] x, int B, int C, int n, int groups, float[] gamma, float[] beta,
                          float[] out, int outBatchStride) {
        int cpg = C / groups, count = cpg * n;
        GroupNormTask groupNorm = GROUP_NORM.get();
        groupNorm.x = x; groupNorm.gamma = gamma; groupNorm.beta = beta; groupNorm.out = out; groupNorm.C = C;
        groupNorm.n = n; groupNorm.groups = groups; groupNorm.outBatchStride = outBatchStride; groupNorm.cpg = cpg;
        groupNorm.count = count;
        par.run(B * groups, groupNorm);
    }

    private static final ThreadLocal<GroupNormTask> GROUP_NORM = ThreadLocal.withInitial(GroupNormTask::new);

    /** {@link #groupNorm}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class GroupNormTask extends Parallel.Task {
        float[] x, gamma, beta, out;
        int C, n, groups, outBatchStride, cpg, count;

        @Override
        public void run(int from, int to) {
            float[] x = this.x, gamma = this.gamma, beta = this.beta, out = this.out;
            int C = this.C, n = this.n, groups = this.groups, outBatchStride = this.outBatchStride, cpg = this.cpg;
            int count = this.count;
            float[] affine = GROUP_AFFINE.get(2 * cpg);
            for (int item = from; item < to; item++) {
                int b = item / groups, g = item % groups;
                int base = (b * C + g * cpg) * n;
                groupAffine(x, base, count, gamma, beta, g * cpg, cpg, affine, 0, cpg);
                for (int cc = 0; cc < cpg; cc++) {
                    int c = g * cpg + cc;
                    float scale = affine[cc], shift = affine[cpg + cc];
                    FloatVector a = FloatVector.broadcast(S, scale), sv = FloatVector.broadcast(S, shift);
                    int src = base + cc * n, dst = b * outBatchStride + c * n;
                    int p = 0;
                    for (; p + L <= n; p += L) FloatVector.fromArray(S, x, src + p).fma(a, sv).intoArray(out, dst + p);
                    for (; p < n; p++) out[dst + p] = x[src + p] * scale + shift;
                }
            }
        }

        @Override
        void clear() {
            x = null;
            gamma = null;
            beta = null;
            out = null;
        }
    }

    /** Per thread, {@link GroupNormTask}'s scales and shifts of one group's channels. */
    private static final ThreadBuffer<float[]> GROUP_AFFINE = ThreadBuffer.floats();

    /**
     * GroupNorm's statistics of one group (its count values from x[base]: mean, then biased variance, eps 1e-5) as each
     * channel's scale and shift: for channels c0 + cc, cc < cpg, affine[scaleAt + cc] = gamma / sigma and
     * affine[shiftAt + cc] = beta - mu gamma / sigma, so that the normalised value is x scale + shift.
     */
    private static void groupAffine(float[] x, int base, int count, float[] gamma, float[] beta, int c0, int cpg, float[] affine,
                                    int scaleAt, int shiftAt) {
        double mean = sum(x, base, count, 0f) / count;
        double var = sum(x, base, count, (float) mean) / count;   // of squared deviations
        float inv = (float) (1.0 / Math.sqrt(var + 1e-5)), mu = (float) mean;
        for (int cc = 0; cc < cpg; cc++) {
            int c = c0 + cc;
            affine[scaleAt + cc] = inv * gamma[c];
            affine[shiftAt + cc] = beta[c] - mu * inv * gamma[c];
        }
    }

    private static final ThreadBuffer<float[]> SUM_LANES = ThreadBuffer.floats();

    /**
     * With centre 0: the sum of x[off, off + count); otherwise the sum of (x - centre)^2. Per-lane partial sums
     * over blocks of 1024 floats, each block's lanes and total added in double, so that long groups keep float accuracy.
     */
    private static double sum(float[] x, int off, int count, float centre) {
        boolean squares = centre != 0f;
        float[] lanes = SUM_LANES.get(L);
        FloatVector cv = FloatVector.broadcast(S, centre);
        double total = 0;
        for (int b0 = 0; b0 < count; b0 += 1024) {
            int b1 = Math.min(count, b0 + 1024), i = b0;
            FloatVector acc = FloatVector.zero(S);
            for (; i + L <= b1; i += L) {
                FloatVector v = FloatVector.fromArray(S, x, off + i);
                if (squares) {
                    FloatVector d = v.sub(cv);
                    acc = d.fma(d, acc);
                } else {
                    acc = acc.add(v);
                }
            }
            // lane by lane in a fixed order, not reduceLanes(ADD): its order is unspecified, and its compiled and
            // interpreted forms round differently (a group's mean moved by an ulp once the JIT compiled this, and the
            // same request's outputs with it); through an array, as lane(i) with a variable i is not intrinsified
            acc.intoArray(lanes, 0);
            double block = 0;
            for (int l = 0; l < L; l++) block += lanes[l];
            for (; i < b1; i++) {
                double v = x[off + i];
                block += squares ? (v - centre) * (v - centre) : v;
            }
            total += block;
        }
        return total;
    }

    // ------------------------------------------------------------------ local cosine similarity

    // The 8 neighbours at dilation 2, row-major (spec 2.6): (dy, dx) = (-2,-2) (-2,0) (-2,2) (0,-2) (0,2) (2,-2) (2,0) (2,2).

    /**
     * Reads the first C channels of buf (B, C + 8, H, W) and writes the 8 similarities into channels C..C+7.
     *
     * <p>The channel planes are H W floats apart, a power of two at the usual sizes, so a vector of pixels read across
     * all channels maps every load to the same L1 and L2 sets (measured: LCS took ~11 % of a W3 paper forward that way).
     * Both passes therefore read each plane in row runs: the norms accumulate row by row, and the similarities read a
     * per-thread ring of the 5 rows y - 2 .. y + 2 of every channel (zero-padded by 2 columns, zero rows outside the
     * image, so border pixels need no masks: a neighbour outside contributes 0), plus the same rows of the inverse
     * norms; each row is copied in once per chunk. Per vector of pixels all 8 dot products are taken in one pass over
     * the channels, in channel order (the rounding of the earlier per-pixel form).
     */
    static void localCosineSimilarity(Parallel par, float[] buf, int B, int C, int H, int W, float[] invNorm) {
        int n = H * W, batchStride = (C + 8) * n, wv = vectorWidth(W);
        InverseNormTask inverseNorm = INVERSE_NORM.get();
        inverseNorm.buf = buf; inverseNorm.invNorm = invNorm; inverseNorm.C = C; inverseNorm.H = H; inverseNorm.W = W;
        inverseNorm.n = n; inverseNorm.batchStride = batchStride; inverseNorm.wv = wv;
        par.run(B * H, inverseNorm);
        similarities(par, buf, B, C, H, W, invNorm, null);
    }

    /**
     * localCosineSimilarity's second pass: the 8 similarities from buf's first C channels and the inverse norms; with
     * padded non-null also their padded, deinterleaved copy (channels C..C+7 of padded's C + 8, see
     * {@link #writePaddedRow}), each row while it is in L1.
     */
    private static void similarities(Parallel par, float[] buf, int B, int C, int H, int W, float[] invNorm, float[] padded) {
        int n = H * W, batchStride = (C + 8) * n, wv = vectorWidth(W);
        int rl = wv + 4 + L, cStride = 5 * rl;                      // ring row: 2 zeros, W values, zeros
        SimilarityTask similarity = SIMILARITY.get();
        similarity.buf = buf; similarity.invNorm = invNorm; similarity.C = C; similarity.H = H; similarity.W = W;
        similarity.n = n; similarity.batchStride = batchStride; similarity.wv = wv; similarity.rl = rl;
        similarity.cStride = cStride; similarity.padded = padded;
        if (padded != null) {
            similarity.pe = winogradRun(W);
            similarity.padPlane = winogradPlane(H, W);
        }
        par.run(B * H, similarity);
    }

    /**
     * Whether {@link #samplerInputPadded} takes images of width w: rows of whole vectors, so that its row pass splits
     * each plane into vectors exactly as groupNorm's plane pass does (a partial vector there is finished by scalar
     * arithmetic that rounds differently).
     */
    static boolean samplerRowsFit(int w) { return w % L == 0; }

    /**
     * The sampler's input at one resolution for a 3x3 Winograd conv ({@link #convWinogradPrepadded}): buf's first C
     * channels = GroupNorm(x) (as {@link #groupNorm}), the inverse pixel norms of those channels into invNorm and the 8
     * similarities into buf's channels C..C+7 (as {@link #localCosineSimilarity}), and the padded, deinterleaved copy
     * of all C + 8 channels into padded. After the group statistics, one pass by rows normalises every channel of a
     * row, sums its squares for the norms and writes the row's padded copy while it is in L1, where groupNorm's pass
     * by channel groups, the norms' pass and the conv's copy pass each went over the whole tensor. Same values. Needs
     * {@link #samplerRowsFit}(W).
     */
    static void samplerInputPadded(Parallel par, float[] x, int B, int C, int H, int W, int groups, float[] gamma, float[] beta,
                                   float[] buf, float[] invNorm, float[] padded) {
        if (!samplerRowsFit(W)) throw new IllegalArgumentException("samplerInputPadded: width " + W + " is not whole vectors of " + L);
        int n = H * W, cpg = C / groups, batchStride = (C + 8) * n;
        float[] affine = AFFINE.get(2 * B * C);
        GroupNormStatsTask stats = GROUP_NORM_STATS.get();
        stats.x = x; stats.gamma = gamma; stats.beta = beta; stats.affine = affine; stats.C = C; stats.n = n;
        stats.groups = groups; stats.cpg = cpg; stats.BC = B * C;
        par.run(B * groups, stats);
        NormRowsTask rows = NORM_ROWS.get();
        rows.x = x; rows.affine = affine; rows.buf = buf; rows.invNorm = invNorm; rows.padded = padded; rows.C = C;
        rows.H = H; rows.W = W; rows.n = n; rows.batchStride = batchStride; rows.BC = B * C;
        rows.pe = winogradRun(W); rows.padPlane = winogradPlane(H, W); rows.blocks = (H + NORM_ROWS_BLOCK - 1) / NORM_ROWS_BLOCK;
        par.run(B * rows.blocks, rows);
        similarities(par, buf, B, C, H, W, invNorm, padded);
    }

    /** Per channel the GroupNorm's scale (affine[b C + c]) and shift (affine[B C + b C + c]), shared by the row pass. */
    private static final ThreadBuffer<float[]> AFFINE = ThreadBuffer.floats();
    private static final ThreadLocal<GroupNormStatsTask> GROUP_NORM_STATS = ThreadLocal.withInitial(GroupNormStatsTask::new);
    private static final ThreadLocal<NormRowsTask> NORM_ROWS = ThreadLocal.withInitial(NormRowsTask::new);

    /** {@link #samplerInputPadded}'s group statistics, as {@link GroupNormTask} takes them, into per-channel scales and shifts. */
    private static final class GroupNormStatsTask extends Parallel.Task {
        float[] x, gamma, beta, affine;
        int C, n, groups, cpg, BC;

        @Override
        public void run(int from, int to) {
            float[] x = this.x, gamma = this.gamma, beta = this.beta, affine = this.affine;
            int C = this.C, n = this.n, groups = this.groups, cpg = this.cpg, BC = this.BC, count = cpg * n;
            for (int item = from; item < to; item++) {
                int b = item / groups, g = item % groups;
                groupAffine(x, (b * C + g * cpg) * n, count, gamma, beta, g * cpg, cpg, affine, b * C + g * cpg, BC + b * C + g * cpg);
            }
        }

        @Override
        void clear() {
            x = null;
            gamma = null;
            beta = null;
            affine = null;
        }
    }

    /**
     * Rows per unit of {@link #samplerInputPadded}'s row pass: each channel is read as one run of this many rows. Row by
     * row, the pass read one short row from every channel plane in turn, planes a power of two apart: no prefetch,
     * a miss per channel and row, and the pass took as long as the three it replaced.
     */
    private static final int NORM_ROWS_BLOCK = 4;

    /** {@link #samplerInputPadded}'s row pass: GroupNorm, the inverse norms (as {@link InverseNormTask}) and the padded copy. */
    private static final class NormRowsTask extends Parallel.Task {
        float[] x, affine, buf, invNorm, padded;
        int C, H, W, n, batchStride, BC, pe, padPlane, blocks;

        @Override
        public void run(int from, int to) {
            float[] x = this.x, affine = this.affine, buf = this.buf, invNorm = this.invNorm, padded = this.padded;
            int C = this.C, H = this.H, W = this.W, n = this.n, batchStride = this.batchStride, BC = this.BC;
            int pe = this.pe, padPlane = this.padPlane, blocks = this.blocks;
            float[] ss = LCS_ROW.get(NORM_ROWS_BLOCK * W);
            for (int item = from; item < to; item++) {
                int b = item / blocks, y0 = item % blocks * NORM_ROWS_BLOCK, rows = Math.min(NORM_ROWS_BLOCK, H - y0), len = rows * W;
                java.util.Arrays.fill(ss, 0, len, 0f);
                for (int c = 0; c < C; c++) {
                    // the block's rows of channel c are one run: squares summed per pixel in channel order, as the norms' pass
                    FloatVector a = FloatVector.broadcast(S, affine[b * C + c]), shift = FloatVector.broadcast(S, affine[BC + b * C + c]);
                    int src = (b * C + c) * n + y0 * W, dst = b * batchStride + c * n + y0 * W;
                    for (int X = 0; X < len; X += L) {
                        FloatVector v = FloatVector.fromArray(S, x, src + X).fma(a, shift);
                        v.intoArray(buf, dst + X);
                        v.fma(v, FloatVector.fromArray(S, ss, X)).intoArray(ss, X);
                    }
                    for (int r = 0; r < rows; r++) writePaddedRow(buf, dst + r * W, W, padded, (b * (C + 8) + c) * padPlane, y0 + r, H, pe);
                }
                inverseNorms(ss, len, invNorm, b * n + y0 * W);
            }
        }

        @Override
        void clear() {
            x = null;
            affine = null;
            buf = null;
            invNorm = null;
            padded = null;
        }
    }

    /**
     * Row y of an image plane (x[s .. s + w)) into its padded, deinterleaved copy (the plane at xp[plane ..], the layout
     * {@link #convWinograd} reads: padded row y + 1, see {@link #toEvenOddRow}); with the first row also the zero row
     * above it, with the last the zero rows below, so that the rows' producer writes every value the conv reads.
     */
    private static void writePaddedRow(float[] x, int s, int w, float[] xp, int plane, int y, int h, int pe) {
        int rl = 2 * pe;
        toEvenOddRow(x, s, w, xp, plane + (y + 1) * rl, pe);
        if (y == 0) java.util.Arrays.fill(xp, plane, plane + rl, 0f);
        if (y == h - 1) java.util.Arrays.fill(xp, plane + (h + 1) * rl, plane + winogradRows(h) * rl, 0f);
    }

    private static final ThreadLocal<SimilarityTask> SIMILARITY = ThreadLocal.withInitial(SimilarityTask::new);

    /** {@link #localCosineSimilarity}'s similarities, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class SimilarityTask extends Parallel.Task {
        float[] buf, invNorm, padded;
        int C, H, W, n, batchStride, wv, rl, cStride, pe, padPlane;

        @Override
        public void run(int from, int to) {
            float[] buf = this.buf, invNorm = this.invNorm, padded = this.padded;
            int C = this.C, H = this.H, W = this.W, n = this.n, batchStride = this.batchStride, wv = this.wv;
            int rl = this.rl, cStride = this.cStride, pe = this.pe, padPlane = this.padPlane;
            float[] ring = LCS_RING.get((C + 1) * cStride + SLACK);
            float[] tail = LCS_ROW.get(Math.max(wv, 8 * L));
            for (int r = 0; r < 5 * (C + 1); r++) {                 // pads stay zero: rows only get values copied in
                java.util.Arrays.fill(ring, r * rl, r * rl + 2, 0f);
                java.util.Arrays.fill(ring, r * rl + 2 + W, (r + 1) * rl, 0f);
            }
            int next = Integer.MIN_VALUE, batch = -1;
            for (int row = from; row < to; row++) {
                int b = row / H, y = row % H;
                if (b != batch) {
                    batch = b;
                    next = Integer.MIN_VALUE;
                }
                // rows entering the window, y - 2 .. y + 2 not yet in the ring; a 0-based count, not sy <= y + 2:
                // C2's first code for that form trapped on its loop limit check and ran interpreted until recompiled
                int first = Math.max(y - 2, next), entering = y + 3 - first;
                for (int k = 0; k < entering; k++) {
                    int sy = first + k, slot = Math.floorMod(sy, 5) * rl + 2;
                    boolean inside = sy >= 0 && sy < H;
                    for (int c = 0; c <= C; c++) {
                        int dst = c * cStride + slot;
                        if (!inside) java.util.Arrays.fill(ring, dst, dst + W, 0f);
                        else if (c < C) copyRow(buf, b * batchStride + c * n + sy * W, ring, dst, W);
                        else copyRow(invNorm, b * n + sy * W, ring, dst, W);
                    }
                }
                next = y + 3;
                int up = Math.floorMod(y - 2, 5) * rl, mid = Math.floorMod(y, 5) * rl, down = Math.floorMod(y + 2, 5) * rl;
                int dst = b * batchStride + C * n + y * W;
                for (int X = 0; X < W; X += L) {
                    if (X + L <= W) {
                        lcsTile8(ring, C, cStride, up + X, mid + X, down + X, buf, dst + X, n);
                    } else {                                   // the row's last, partial vector: through tail
                        lcsTile8(ring, C, cStride, up + X, mid + X, down + X, tail, 0, 0);
                        for (int o = 0; o < 8; o++) System.arraycopy(tail, o * L, buf, dst + o * n + X, W - X);
                    }
                }
                if (padded != null) {
                    for (int o = 0; o < 8; o++) writePaddedRow(buf, dst + o * n, W, padded, (b * (C + 8) + C + o) * padPlane, y, H, pe);
                }
            }
        }

        @Override
        void clear() {
            buf = null;
            invNorm = null;
            padded = null;
        }
    }

    private static final ThreadLocal<InverseNormTask> INVERSE_NORM = ThreadLocal.withInitial(InverseNormTask::new);

    /** {@link #localCosineSimilarity}'s inverse norms, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class InverseNormTask extends Parallel.Task {
        float[] buf, invNorm;
        int C, H, W, n, batchStride, wv;

        @Override
        public void run(int from, int to) {
            float[] buf = this.buf, invNorm = this.invNorm;
            int C = this.C, H = this.H, W = this.W, n = this.n, batchStride = this.batchStride, wv = this.wv;
            float[] ss = LCS_ROW.get(wv);
            for (int row = from; row < to; row++) {
                int b = row / H, y = row % H, base = b * batchStride + y * W, X = 0;
                java.util.Arrays.fill(ss, 0, wv, 0f);
                for (int c = 0, o = base; c < C; c++, o += n) {
                    X = 0;
                    for (; X + L <= W; X += L) {
                        FloatVector v = FloatVector.fromArray(S, buf, o + X);
                        v.fma(v, FloatVector.fromArray(S, ss, X)).intoArray(ss, X);
                    }
                    for (; X < W; X++) ss[X] = Math.fma(buf[o + X], buf[o + X], ss[X]);
                }
                inverseNorms(ss, W, invNorm, b * n + y * W);
            }
        }

        @Override
        void clear() {
            buf = null;
            invNorm = null;
        }
    }

    /** invNorm[d + X] = 1 / max(sqrt(ss[X]), 1e-8) for X < n: the pixels' inverse norms from their sums of squares. */
    private static void inverseNorms(float[] ss, int n, float[] invNorm, int d) {
        int X = 0;
        for (; X + L <= n; X += L) {
            FloatVector.broadcast(S, 1f).div(FloatVector.fromArray(S, ss, X).lanewise(VectorOperators.SQRT).max(1e-8f)).intoArray(invNorm, d + X);
        }
        for (; X < n; X++) invNorm[d + X] = 1f / Math.max((float) Math.sqrt(ss[X]), 1e-8f);
    }

    /**
     * The 8 similarities of one vector of pixels: ring rows at up, mid, down (offset by the vector's column, each
     * value at + 2), C channels cStride apart and the inverse norms as channel C. Similarity o goes to out[dst + o
     * plane], or with plane 0 to out[dst + o L].
     */
    private static void lcsTile8(float[] ring, int C, int cStride, int up, int mid, int down, float[] out, int dst, int plane) {
        FloatVector d0 = FloatVector.zero(S), d1 = d0, d2 = d0, d3 = d0, d4 = d0, d5 = d0, d6 = d0, d7 = d0;
        for (int c = 0, o = 0; c < C; c++, o += cStride) {
            FloatVector a = FloatVector.fromArray(S, ring, o + mid + 2);
            d0 = a.fma(FloatVector.fromArray(S, ring, o + up), d0);
            d1 = a.fma(FloatVector.fromArray(S, ring, o + up + 2), d1);
            d2 = a.fma(FloatVector.fromArray(S, ring, o + up + 4), d2);
            d3 = a.fma(FloatVector.fromArray(S, ring, o + mid), d3);
            d4 = a.fma(FloatVector.fromArray(S, ring, o + mid + 4), d4);
            d5 = a.fma(FloatVector.fromArray(S, ring, o + down), d5);
            d6 = a.fma(FloatVector.fromArray(S, ring, o + down + 2), d6);
            d7 = a.fma(FloatVector.fromArray(S, ring, o + down + 4), d7);
        }
        int nr = C * cStride, step = plane == 0 ? L : plane;
        FloatVector ip = FloatVector.fromArray(S, ring, nr + mid + 2);
        d0.mul(ip).mul(FloatVector.fromArray(S, ring, nr + up)).intoArray(out, dst);
        d1.mul(ip).mul(FloatVector.fromArray(S, ring, nr + up + 2)).intoArray(out, dst + step);
        d2.mul(ip).mul(FloatVector.fromArray(S, ring, nr + up + 4)).intoArray(out, dst + 2 * step);
        d3.mul(ip).mul(FloatVector.fromArray(S, ring, nr + mid)).intoArray(out, dst + 3 * step);
        d4.mul(ip).mul(FloatVector.fromArray(S, ring, nr + mid + 4)).intoArray(out, dst + 4 * step);
        d5.mul(ip).mul(FloatVector.fromArray(S, ring, nr + down)).intoArray(out, dst + 5 * step);
        d6.mul(ip).mul(FloatVector.fromArray(S, ring, nr + down + 2)).intoArray(out, dst + 6 * step);
        d7.mul(ip).mul(FloatVector.fromArray(S, ring, nr + down + 4)).intoArray(out, dst + 7 * step);
    }
}
