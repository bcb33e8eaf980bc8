package io.freqfusion.backend.cpu;

/**
 * The FreqFusion primitives on flat NCHW float arrays (spec section 2). Each kernel takes the batch and
 * sizes explicitly and writes its whole output; index math is written once per kernel. Work is split
 * over (batch x rows) so that both input and output rows of one unit stay in cache.
 */
public final class CpuKernels {
    private CpuKernels() {}

    // ------------------------------------------------------------------ convolutions

    /**
     * 2-D cross-correlation with bias, zero padding, stride 1, dilation {@code dil} (PyTorch Conv2d).
     * x: (B, ci, h, w); weight (co, ci, k, k); out: (B, co, ho, wo) with ho = h + 2 pad - dil (k - 1).
     * scratch (for k > 1 or pad > 0) holds the padded input: at least {@link #convScratch} floats.
     */
    public static void conv2d(Parallel par, float[] x, int B, int h, int w, ConvWeights weights, int dil, int pad,
                              float[] out, float[] scratch) {
        if (weights.k == 1 && pad == 0) {
            VectorKernels.conv1x1(par, x, B, h * w, weights, out);
            return;
        }
        if (weights.winograd != null && dil == 1 && pad == 1) {   // 3x3, stride 1, pad 1
            VectorKernels.convWinograd(par, x, B, h, w, weights, out, null, weights.co, scratch);
            return;
        }
        VectorKernels.padPlanes(par, x, B * weights.ci, h, w, pad, h + 2 * pad, scratch);
        VectorKernels.convPadded(par, scratch, B, h + 2 * pad, w + 2 * pad, weights, dil, out);
    }

    /**
     * Two 3x3, stride-1, pad-1 convolutions of the same input stacked in one set of weights (see
     * {@link ConvWeights#winograd}): output channels below split into outA (B, split, h, w), the others into outB.
     */
    public static void conv3x3Split(Parallel par, float[] x, int B, int h, int w, ConvWeights stacked, int split,
                                    float[] outA, float[] outB, float[] scratch) {
        if (stacked.winograd == null) throw new IllegalArgumentException("conv3x3Split needs 3x3 weights, got k = " + stacked.k);
        if (split <= 0 || split >= stacked.co) throw new IllegalArgumentException("split " + split + " outside (0, " + stacked.co + ")");
        VectorKernels.convWinograd(par, x, B, h, w, stacked, outA, outB, split, scratch);
    }

    /**
     * Whether a feature of width w can have its padded copy for a 3x3 convolution written by the kernel that makes it
     * ({@link #conv1x1AndPad}, {@link #carafeOfIntermediate(Parallel, float[], int, int, int, int, float[], int, int,
     * float[], float, float, float[], float[])}), so that the convolution ({@link #conv3x3Prepadded}) needs no copy
     * pass of its own.
     */
    public static boolean padsInProducer(int w) {
        return VectorKernels.padsInProducer(w);
    }

    /**
     * A 1x1 convolution (no padding) of x (B, ci, h, w) into out (B, co, h, w) that also writes out's padded copy for a
     * 3x3, pad-1 convolution into padded ({@link #convScratch}(B, co, h, w, 3, 1) floats, zero where nothing writes:
     * a buffer kept for such copies, see {@link #conv3x3Prepadded}). Needs {@link #padsInProducer}(w).
     */
    public static void conv1x1AndPad(Parallel par, float[] x, int B, int h, int w, ConvWeights weights, float[] out, float[] padded) {
        if (weights.k != 1) throw new IllegalArgumentException("conv1x1AndPad needs 1x1 weights, got k = " + weights.k);
        VectorKernels.conv1x1(par, x, B, h * w, w, weights, out, padded);
    }

    /**
     * A 3x3, stride-1, pad-1 convolution (B, ci, h, w) -> (B, co, h, w) of the input whose padded copy its producer
     * wrote into padded ({@link #conv1x1AndPad}, {@link #carafeOfIntermediate(Parallel, float[], int, int, int, int,
     * float[], int, int, float[], float, float, float[], float[])}); with outB non-null the output channels from split
     * on go there (as {@link #conv3x3Split}). The padded buffer's pads must be zero: it must be used for nothing but
     * such copies of features of this shape.
     */
    public static void conv3x3Prepadded(Parallel par, float[] padded, int B, int h, int w, ConvWeights weights, float[] out,
                                        float[] outB, int split) {
        if (weights.winograd == null) throw new IllegalArgumentException("conv3x3Prepadded needs 3x3 weights, got k = " + weights.k);
        VectorKernels.convWinogradPrepadded(par, padded, B, h, w, weights, out, outB, outB == null ? weights.co : split);
    }

    /**
     * A 3x3, stride-1, pad-1 convolution of logits, out (B, co, h, w) with co the taps of the kernel they make, that
     * also normalises them ({@link #normalisePacked}(out, ..., hamming, null, normalised)) block by block as each
     * work unit makes all co channels of its rows, instead of in a pass of its own (same values). With prepadded the
     * input is the padded copy its producer wrote (as {@link #conv3x3Prepadded}); else x, copied into scratch
     * ({@link #convScratch} floats) first.
     */
    public static void conv3x3AndNormalise(Parallel par, float[] x, boolean prepadded, int B, int h, int w, ConvWeights weights,
                                           float[] out, float[] scratch, float[] hamming, float[] normalised) {
        if (weights.winograd == null) throw new IllegalArgumentException("conv3x3AndNormalise needs 3x3 weights, got k = " + weights.k);
        if (prepadded) VectorKernels.convWinogradPrepadded(par, x, B, h, w, weights, out, null, weights.co, hamming, normalised);
        else VectorKernels.convWinograd(par, x, B, h, w, weights, out, null, weights.co, scratch, hamming, normalised);
    }

    /** As above with the weights as stored, packed on every call (tests, one-off use; plans pack once). */
    public static void conv2d(Parallel par, float[] x, int B, int ci, int h, int w,
                              float[] weight, float[] bias, int co, int k, int dil, int pad,
                              float[] out, float[] scratch) {
        conv2d(par, x, B, h, w, ConvWeights.pack(weight, bias, co, ci, k), dil, pad, out, scratch);
    }

    /** Scratch floats conv2d needs for this input. */
    public static int convScratch(int B, int ci, int h, int w, int k, int pad) {
        if (k == 1 && pad == 0) return 0;
        int padded = B * ci * (h + 2 * pad) * (w + 2 * pad) + VectorKernels.SLACK;
        return k == 3 && pad == 1 ? Math.max(padded, VectorKernels.winogradScratch(B, ci, h, w)) : padded;
    }

    // ------------------------------------------------------------------ kernel normaliser (spec 2.1, 2.2)

    /**
     * q_t = exp(z_t) hw_t / sum_u exp(z_u) hw_u over the taps of each pixel; z: (B, taps, n) logits.
     * hamming has {@code taps} entries, or one entry (window off). out may alias z.
     */
    public static void normalise(Parallel par, float[] z, int B, int taps, int n, float[] hamming, float[] out) {
        VectorKernels.normalise(par, z, B, taps, n, hamming, out);
    }

    /**
     * The normaliser of z (B, taps, H, W) into the pair-packed layout {@link #carafe} reads (see {@link #packKernel}),
     * and also into out (B, taps, H, W) when out is non-null (out may alias z).
     */
    public static void normalisePacked(Parallel par, float[] z, int B, int taps, int H, int W, float[] hamming,
                                       float[] out, float[] packed) {
        VectorKernels.normalisePacked(par, z, B, taps, H, W, hamming, out, packed);
    }

    // ------------------------------------------------------------------ CARAFE (spec 2.3)

    /**
     * Packs a kernel K (B, k^2, H, W) for {@link #carafe}: each pair of output rows becomes one contiguous block, in it
     * per vector of output columns the k^2 taps of both rows (rows padded to whole vectors). packed: at least
     * {@link #packedKernelSize} floats.
     */
    public static void packKernel(Parallel par, float[] kernel, int B, int taps, int H, int W, float[] packed) {
        VectorKernels.packKernel(par, kernel, B, taps, H, W, packed);
    }

    /** Floats a pair-packed kernel of (B, taps, H, W) takes. */
    public static int packedKernelSize(int B, int taps, int H, int W) {
        return VectorKernels.packedKernelSize(B, taps, H, W);
    }

    /**
     * out = selfScale * self + carafeScale * CARAFE(x, K, k, s), mmcv semantics: out-of-image taps dropped.
     * x: (B, C, h, w); K: (B, k^2, s h, s w) pair-packed ({@link #packKernel}, {@link #normalisePacked}); self, out:
     * (B, C, s h, s w); s is 1 or 2; self may be null (then selfScale is unused). out must not alias x or self.
     */
    public static void carafe(Parallel par, float[] x, int B, int C, int h, int w, float[] packedKernel, int k, int s,
                              float[] self, float selfScale, float carafeScale, float[] out) {
        VectorKernels.carafe(par, x, B, C, h, w, packedKernel, k, s, self, selfScale, carafeScale, out, null, null, false);
    }

    /**
     * {@link #carafe} of a feature made earlier in the forward: its work is split by rows, so that each thread reassembles
     * the rows it made (same values).
     */
    public static void carafeOfIntermediate(Parallel par, float[] x, int B, int C, int h, int w, float[] packedKernel, int k,
                                            int s, float[] self, float selfScale, float carafeScale, float[] out) {
        VectorKernels.carafe(par, x, B, C, h, w, packedKernel, k, s, self, selfScale, carafeScale, out, null, null, true);
    }

    /**
     * {@link #carafeOfIntermediate(Parallel, float[], int, int, int, int, float[], int, int, float[], float, float,
     * float[])} that also writes out's padded copy for a 3x3, pad-1 convolution into padded (see {@link #conv1x1AndPad}).
     * out may be null: then only the padded copy is written (for a feature that only the convolution reads). Needs
     * {@link #padsInProducer}(s w).
     */
    public static void carafeOfIntermediate(Parallel par, float[] x, int B, int C, int h, int w, float[] packedKernel, int k,
                                            int s, float[] self, float selfScale, float carafeScale, float[] out, float[] padded) {
        VectorKernels.carafe(par, x, B, C, h, w, packedKernel, k, s, self, selfScale, carafeScale, out, null, null, true, padded);
    }

    /**
     * {@link #carafeOfIntermediate} of logits (out: (B, C, s h, s w), C = taps of the kernel they make), then their
     * kernel normalisation as {@link #normalisePacked}(out, ..., hamming, mask, normalised) would make it, each band of
     * rows normalised by the unit that reassembled it, while its rows are in cache (same values). normalised may be
     * packedKernel itself (each band's kernel is overwritten only after that band is reassembled); mask may be null.
     */
    public static void carafeOfIntermediateAndNormalise(Parallel par, float[] x, int B, int C, int h, int w, float[] packedKernel,
                                                        int k, int s, float[] self, float selfScale, float carafeScale,
                                                        float[] out, float[] hamming, float[] mask, float[] normalised) {
        VectorKernels.carafe(par, x, B, C, h, w, packedKernel, k, s, self, selfScale, carafeScale, out, null, null, true, null,
                hamming, mask, normalised);
    }

    /**
     * {@link #carafe}, and also sum = out + addend (all (B, C, s h, s w)), each row added while it is still in cache:
     * the level output of an fpn-add chain without another pass over out. sum must not alias out; it may be addend
     * (added in place). out may be null when only the sum is wanted: its rows are then made in L1 and not written.
     */
    public static void carafeAndAdd(Parallel par, float[] x, int B, int C, int h, int w, float[] packedKernel, int k, int s,
                                    float[] self, float selfScale, float carafeScale, float[] out, float[] addend, float[] sum) {
        VectorKernels.carafe(par, x, B, C, h, w, packedKernel, k, s, self, selfScale, carafeScale, out, addend, sum, false);
    }

    /**
     * lrOut = CARAFE(xl, K_l, 5, s=2) and hrOut = hrSelfScale xh - CARAFE(xh, K_h, 3, s=1) in one pass, both (B, C, 2h,
     * 2w), and with sum non-null sum = hrOut + lrOut (then hrOut or lrOut may be null: not written); K_l and K_h
     * pair-packed. The same values as the two {@link #carafe} calls. Only where {@link #carafeFinalFits}.
     */
    public static void carafeFinal(Parallel par, float[] xl, float[] xh, int B, int C, int h, int w, float[] packedKl, float[] packedKh,
                                   float hrSelfScale, float[] lrOut, float[] hrOut, float[] sum) {
        VectorKernels.carafeFinal(par, xl, xh, B, C, h, w, packedKl, packedKh, hrSelfScale, lrOut, hrOut, sum);
    }

    /** Whether {@link #carafeFinal} takes C channels at lr width w with kernel sizes kl and kh. */
    public static boolean carafeFinalFits(int C, int w, int kl, int kh) {
        return VectorKernels.carafeFinalFits(C, w, kl, kh);
    }

    // ------------------------------------------------------------------ resizes (spec 2.4, 2.5)

    /** PyTorch legacy nearest: src = min(floor(dst * (in/out)), in - 1) with the ratio in float32. out = resize(x) (+ add). */
    public static void nearest(Parallel par, float[] x, int B, int C, int h, int w, int H, int W, float[] add, float[] out) {
        float sy = (float) h / (float) H, sx = (float) w / (float) W;
        NearestTask nearest = NEAREST.get();
        nearest.x = x; nearest.add = add; nearest.out = out; nearest.h = h; nearest.w = w; nearest.H = H;
        nearest.W = W; nearest.sy = sy; nearest.sx = sx;
        par.run(B * C * H, nearest);
    }

    private static final ThreadLocal<NearestTask> NEAREST = ThreadLocal.withInitial(NearestTask::new);

    /** {@link #nearest}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class NearestTask extends Parallel.Task {
        float[] x, add, out;
        int h, w, H, W;
        float sy, sx;

        @Override
        public void run(int from, int to) {
            float[] x = this.x, add = this.add, out = this.out;
            int h = this.h, w = this.w, H = this.H, W = this.W;
            float sy = this.sy, sx = this.sx;
            for (int row = from; row < to; row++) {
                int plane = row / H, Y = row % H;
                int iy = Math.min((int) Math.floor(Y * sy), h - 1);
                int src = plane * h * w + iy * w, dst = plane * H * W + Y * W;
                for (int X = 0; X < W; X++) {
                    int ix = Math.min((int) Math.floor(X * sx), w - 1);
                    float v = x[src + ix];
                    out[dst + X] = add == null ? v : v + add[dst + X];
                }
            }
        }

        @Override
        void clear() {
            x = null;
            add = null;
            out = null;
        }
    }

    /** Bilinear resize (PyTorch upsample_bilinear2d semantics, spec 2.5). */
    public static void bilinear(Parallel par, float[] x, int B, int C, int h, int w, int H, int W, boolean alignCorners, float[] out) {
        BilinearTask bilinear = BILINEAR.get();
        bilinear.x = x; bilinear.out = out; bilinear.h = h; bilinear.w = w; bilinear.H = H; bilinear.W = W;
        bilinear.alignCorners = alignCorners;
        par.run(B * C * H, bilinear);
    }

    private static final ThreadLocal<BilinearTask> BILINEAR = ThreadLocal.withInitial(BilinearTask::new);

    /** {@link #bilinear}'s parallel body, the call's arguments in fields (see {@link Parallel.Task}). */
    private static final class BilinearTask extends Parallel.Task {
        float[] x, out;
        int h, w, H, W;
        boolean alignCorners;

        @Override
        public void run(int from, int to) {
            float[] x = this.x, out = this.out;
            int h = this.h, w = this.w, H = this.H, W = this.W;
            boolean alignCorners = this.alignCorners;
            for (int row = from; row < to; row++) {
                int plane = row / H, Y = row % H;
                float fy = sourceIndex(Y, h, H, alignCorners);
                int y0 = Math.min((int) fy, h - 1), y1 = Math.min(y0 + 1, h - 1);
                float ly = fy - y0;
                int src = plane * h * w, dst = plane * H * W + Y * W;
                for (int X = 0; X < W; X++) {
                    float fx = sourceIndex(X, w, W, alignCorners);
                    int x0 = Math.min((int) fx, w - 1), x1 = Math.min(x0 + 1, w - 1);
                    float lx = fx - x0;
                    float top = x[src + y0 * w + x0] * (1 - lx) + x[src + y0 * w + x1] * lx;
                    float bot = x[src + y1 * w + x0] * (1 - lx) + x[src + y1 * w + x1] * lx;
                    out[dst + X] = top * (1 - ly) + bot * ly;
                }
            }
        }

        @Override
        void clear() {
            x = null;
            out = null;
        }
    }

    static float sourceIndex(int dst, int in, int out, boolean alignCorners) {
        if (alignCorners) return out > 1 ? dst * ((float) (in - 1) / (out - 1)) : 0f;
        return Math.max((dst + 0.5f) * ((float) in / out) - 0.5f, 0f);
    }

    // ------------------------------------------------------------------ offset generator primitives (spec 2.6, 6)

    /**
     * GroupNorm(groups, C) with affine gamma/beta, eps 1e-5, biased variance. x (B, C, n) at xOff with batch stride
     * xBatchStride; out likewise (so that it can write into the first C channels of a wider concat buffer).
     */
    public static void groupNorm(Parallel par, float[] x, int B, int C, int n, int groups, float[] gamma, float[] beta,
                                 float[] out, int outBatchStride) {
        VectorKernels.groupNorm(par, x, B, C, n, groups, gamma, beta, out, outBatchStride);
    }

    /** Copies x (B, C, n) into the first C channels of out, whose batch stride is outBatchStride. */
    public static void copyChannels(float[] x, int B, int C, int n, float[] out, int outBatchStride) {
        for (int b = 0; b < B; b++) System.arraycopy(x, b * C * n, out, b * outBatchStride, C * n);
    }

    /**
     * Local cosine similarity over the 8 dilation-2 neighbours (spec 2.6). Reads the first C channels of buf
     * (B, C + 8, H, W) and writes channels C..C+7. invNorm is scratch of B*H*W.
     */
    public static void localCosineSimilarity(Parallel par, float[] buf, int B, int C, int H, int W, float[] invNorm) {
        VectorKernels.localCosineSimilarity(par, buf, B, C, H, W, invNorm);
    }

    /**
     * Whether {@link #samplerInputPadded} takes a resolution of width w (rows of whole vectors).
     */
    public static boolean samplerRowsFit(int w) {
        return VectorKernels.samplerRowsFit(w);
    }

    /**
     * The sampler's input at one resolution, with the padded copy its 3x3 convolution reads: {@link #groupNorm} of x
     * (B, C, H, W) into the first C channels of buf (B, C + 8, H, W), {@link #localCosineSimilarity} into its channels
     * C..C+7 (invNorm: scratch of B*H*W), and of all C + 8 channels the padded copy {@link #conv3x3Prepadded} reads,
     * into padded ({@link #convScratch}(B, C + 8, H, W, 3, 1) floats; every value the conv reads is written). The
     * same values as those two kernels and {@link #conv2d}'s own copy, in fewer passes over the tensor. Needs
     * {@link #samplerRowsFit}(W).
     */
    public static void samplerInputPadded(Parallel par, float[] x, int B, int C, int H, int W, int groups, float[] gamma,
                                          float[] beta, float[] buf, float[] invNorm, float[] padded) {
        VectorKernels.samplerInputPadded(par, x, B, C, H, W, groups, gamma, beta, buf, invNorm, padded);
    }

    /**
     * Offset combination (spec 6): delta = O * sigmoid(D) + init_pos with
     * O = lrOff + pixel_unshuffle(hrOff, 2), D = lrScale + pixel_unshuffle(hrScale, 2).
     * The offset and direct-scale convs run as one conv each at LR and HR (they share their input), so
     * lrConv (B, 16G, h, w) holds O's LR part in channels [0, 8G) and D's in [8G, 16G); hrConv (B, 4G, 2h, 2w)
     * holds the HR parts in [0, 2G) and [2G, 4G). delta: (B, 8G, h, w). Channel q = c*4 + i*2 + j.
     */
    public static void combineOffsets(Parallel par, float[] lrConv, float[] hrConv, float[] initPos, int B, int groups,
                                      int h, int w, float[] delta) {
        VectorKernels.combineOffsets(par, lrConv, hrConv, initPos, B, groups, h, w, delta);
    }

    /**
     * Offset-guided resampling (spec 6): out[c, 2y+i, 2x+j] = bilinear border sample of f[c] at
     * ix = 2 (x + 0.5 + dx) - 0.5, iy = 2 (y + 0.5 + dy) - 0.5, with (dx, dy) from delta for c's group.
     * f, out: (B, C, 2h, 2w); delta: (B, 8G, h, w).
     */
    public static void gridSampleBorder(Parallel par, float[] f, float[] delta, int B, int C, int groups, int h, int w, float[] out) {
        VectorKernels.gridSampleBorder(par, f, delta, B, C, groups, h, w, out);
    }

    /** Whether {@link #gridSampleBlocked} applies: 256- or 512-bit vectors of L lanes and a multiple of L channels per group. */
    public static boolean blockedSampling(int C, int groups) {
        return VectorKernels.blockedSampling(C, groups);
    }

    /**
     * {@link #gridSampleBorder}, same values and layouts, without gathers (each block of L channels, L the vector's lanes,
     * sampled from a channel-last copy); out may be f itself. Needs {@link #blockedSampling}.
     */
    public static void gridSampleBlocked(Parallel par, float[] f, float[] delta, int B, int C, int groups, int h, int w, float[] out) {
        if (!blockedSampling(C, groups)) throw new IllegalArgumentException("blocked sampling needs 8 or 16 vector lanes and whole blocks of that many channels per group");
        VectorKernels.gridSampleBlocked(par, f, delta, B, C, groups, h, w, out);
    }
}
