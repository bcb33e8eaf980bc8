package io.freqfusion.backend.cpu;

import io.freqfusion.backend.ForwardShape;
import io.freqfusion.backend.ModuleForward;
import io.freqfusion.backend.Stage;
import io.freqfusion.backend.StageTimes;
import io.freqfusion.model.FreqFusionConfig;
import io.freqfusion.model.FreqFusionModule;
import io.freqfusion.model.FreqFusionWeights;

import static io.freqfusion.backend.cpu.CpuKernels.*;

/**
 * The FreqFusion forward (spec sections 4 to 6) on the CPU for one input shape. All scratch is sized
 * here, once; {@link #run} allocates no buffers. Names of the scratch follow the spec's symbols.
 */
final class CpuModuleForward implements ModuleForward {
    private final Parallel par;
    private final FreqFusionConfig cfg;
    private final FreqFusionWeights wt;
    private final ForwardShape shape;
    private final int B, Ch, Cl, Cc, H, W, h, w, tl, th;

    // Scratch (spec symbols). Unused ones stay null for the configured path.
    private final float[] ph, ph2, pl, px, zhh, zlh, zll, zl, zhl, zh, upLr, lrPre;
    /**
     * Scratch for padded conv inputs, one for the hr and one for the lr resolution: one kernel runs at a time, but a
     * buffer reused by convs of another geometry has its rows at other addresses, so each thread would then write
     * lines the other core last wrote (scratchLr: the lr encoders' copies, null on paths without them).
     */
    private final float[] scratch, scratchLr;
    /**
     * On the default path, the padded copies the 3x3 encoders read are written by the kernels that make their inputs
     * (the compressors for P_h and P_l, the reassembly for P_h'), each row while it is in L1 and by the thread that
     * made it, instead of by a copy pass per encoder (three per forward): hrPadded holds P_h's, then P_h''s
     * (E_H is done with P_h when P_h' is made), scratchLr P_l's. Null (false) where the encoders are not Winograd 3x3
     * convs or the width is not whole chunks ({@link CpuKernels#padsInProducer}). Their pads stay zero because
     * nothing else writes these buffers but E_H's own copy pass, which writes zero pads in the same geometry.
     * Without the sampler P_h' is written only as this copy (E_L is its one reader).
     */
    private final float[] hrPadded;
    /** Whether the hr compressor writes P_h's copy (else E_H makes it, into hrPadded, with a copy pass): see below. */
    private final boolean compressorPads;
    private final boolean lrPadded;
    /**
     * The largest padded copy a compressor writes (floats: 2 MB, the two cores' L2): a compressor writes its rows into
     * the copy's 64 planes at once, and where the copy is larger than the caches keep between forwards those scattered
     * writes miss and stall it, while the copy pass streams (W3's 5.3 MB copy: forward 1.02x slower with
     * producer-written copies, 10 alternating process pairs; W2's 1.6 MB: faster). The reassembly that makes P_h'
     * writes 4 planes at a time, row by row, and has no such limit.
     */
    private static final int PRODUCER_PADS_MAX_FLOATS = 512 * 1024;
    /**
     * The normalised CARAFE kernels, pair-packed: kp the k_l^2-tap ones, kpHigh the k_h^2-tap ones (separate for the
     * same reason as the scratch: each keeps one layout, so its rows stay with the thread that reassembles them).
     */
    private final float[] kp, kpHigh;
    /**
     * Whether, in an fpn-add chain, the two last reassemblies and the level sum run as one pass
     * ({@link CpuKernels#carafeFinal}: the sum then reads lr_out's rows from L1 instead of memory, ~21 MB less
     * read per FPN4 chain; whole chain 0.90, 0.93, 0.98, 1.03 in four in-process A/Bs on a noisy machine, while a
     * single module's forward, which has no sum, measured 1.03-1.04 at W2 and 0.95-1.01 at W3 fused, so it keeps the
     * two passes); K_h is then packed into kpHigh while kp still holds K_l.
     */
    private final boolean fuseFinal;
    private final float[] sh, sl, invNormH, invNormL, hrConv, lrConv, delta;
    /**
     * Whether the sampler works in blocks of L channels (a vector's lanes), each copied channel-last into a per-thread plane (plain loads
     * instead of 4 gathers per vector of output pixels): it samples lr_out in place, so the reassembly writes lr_out
     * and there is no lrPre.
     */
    private final boolean blockedSampling;
    /**
     * Whether the sampler's inputs at the hr and at the lr resolution are made by {@link CpuKernels#samplerInputPadded}
     * (GroupNorm, the norms and the conv's padded copy in one pass by rows instead of three passes): its 3x3 convs by
     * Winograd, GroupNorm on, widths of whole vectors, and a feature of at most {@link #PRODUCER_PADS_MAX_FLOATS}: the
     * row pass reads the feature again after the group statistics, where GroupNorm normalised each group while the
     * statistics had left it in L2 (W2 paper forward 0.957 and 0.972 over 10 and 8 alternating process pairs, 0.918
     * in-process; W3 paper with its 4 MB hr feature included: 1.025 over 8 pairs).
     */
    private final boolean samplerRowsHr, samplerRowsLr;
    /** Convolution weights packed for the tiles, shared by the module's forwards of all shapes. */
    private final PackedModule packed;
    private final Clock clock = new Clock();

    CpuModuleForward(Parallel par, FreqFusionModule module, PackedModule packed, ForwardShape shape) {
        this.par = par;
        this.cfg = module.config();
        this.wt = module.weights();
        this.shape = shape;
        B = shape.batch();
        Ch = cfg.hrChannels();
        Cl = cfg.lrChannels();
        Cc = cfg.compressedChannels();
        H = shape.hrHeight();
        W = shape.hrWidth();
        h = shape.lrHeight();
        w = shape.lrWidth();
        tl = cfg.lowpassTaps();
        th = cfg.highpassTaps();
        int nH = B * H * W, nL = B * h * w;
        boolean semi = cfg.semiConv(), cfu = semi && cfg.compFeatUpsample(), hp = cfg.useHighPass();
        ph = new float[nH * Cc];
        pl = new float[nL * Cc];
        boolean fr = cfg.featureResample();
        boolean winogradEncoders = cfu && hp && packed.encoderHigh.winograd != null && packed.encoderLow.winograd != null
                && cfg.encoderDilation() == 1 && cfg.encoderPadding() == 1;
        int hrCopy = CpuKernels.convScratch(B, Cc, H, W, 3, 1), lrCopy = CpuKernels.convScratch(B, Cc, h, w, 3, 1);
        hrPadded = winogradEncoders && CpuKernels.padsInProducer(W) ? new float[hrCopy] : null;
        compressorPads = hrPadded != null && hrCopy <= PRODUCER_PADS_MAX_FLOATS;
        lrPadded = winogradEncoders && packed.lrEncoders != null && CpuKernels.padsInProducer(w) && lrCopy <= PRODUCER_PADS_MAX_FLOATS;
        // P_h' itself only where the sampler reads it: E_L reads the padded copy its reassembly writes
        ph2 = cfu && (fr || hrPadded == null) ? new float[nH * Cc] : null;
        px = semi ? null : new float[nH * Cc];
        zhh = hp && semi ? new float[nH * th] : null;
        zlh = new float[nH * tl];
        zll = semi ? new float[nL * tl] : null;
        zl = new float[nH * tl];
        zhl = hp && semi ? new float[nL * th] : null;
        zh = hp ? new float[nH * th] : null;
        upLr = semi ? null : new float[nH * Cl];
        int cs = cfg.samplerChannels(), g = cfg.featureResampleGroup();
        blockedSampling = fr && CpuKernels.blockedSampling(Cl, g);
        lrPre = fr && !blockedSampling ? new float[nH * Cl] : null;
        boolean samplerRows = fr && cfg.featureResampleNorm() && cfg.samplerPadding() == 1 && packed.hrSampler.winograd != null
                && packed.lrSampler.winograd != null;
        samplerRowsHr = samplerRows && CpuKernels.samplerRowsFit(W) && nH * Cc <= PRODUCER_PADS_MAX_FLOATS;
        samplerRowsLr = samplerRows && CpuKernels.samplerRowsFit(w) && nL * Cc <= PRODUCER_PADS_MAX_FLOATS;
        sh = fr ? new float[nH * cs] : null;
        sl = fr ? new float[nL * cs] : null;
        invNormH = fr ? new float[nH] : null;
        invNormL = fr ? new float[nL] : null;
        hrConv = fr ? new float[nH * 4 * g] : null;
        lrConv = fr ? new float[nL * 16 * g] : null;
        this.packed = packed;
        delta = fr ? new float[nL * 8 * g] : null;
        // every hr padded copy of the default path is in hrPadded; without the sampler's convs nothing else needs scratch
        scratch = new float[hrPadded != null && !fr ? 0 : scratchSize()];
        scratchLr = semi ? new float[CpuKernels.convScratch(B, Cc, h, w, cfg.encoderKernel(), cfg.encoderPadding())] : null;
        kp = new float[CpuKernels.packedKernelSize(B, tl, H, W)];
        kpHigh = hp ? new float[CpuKernels.packedKernelSize(B, th, H, W)] : null;
        fuseFinal = cfu && hp && !fr && Ch == Cl
                && CpuKernels.carafeFinalFits(Cl, w, cfg.lowpassKernel(), cfg.highpassKernel());
        long floats = 0;
        for (float[] a : new float[][] {ph, ph2, pl, px, zhh, zlh, zll, zl, zhl, zh, upLr, lrPre, scratch, scratchLr, hrPadded, kp, kpHigh, sh, sl, invNormH,
                invNormL, hrConv, lrConv, delta}) {
            if (a != null) floats += a.length;
        }
        scratchBytes = 4 * floats;
    }

    private final long scratchBytes;

    @Override
    public long scratchBytes() { return scratchBytes; }

    /** The largest padded copy any convolution of this forward makes. */
    private int scratchSize() {
        int ke = cfg.encoderKernel(), ep = cfg.encoderPadding();
        int m = 0;
        m = Math.max(m, convScratch(B, Cc, H, W, ke, ep));
        if (cfg.featureResample()) m = Math.max(m, convScratch(B, cfg.samplerChannels(), H, W, ke, cfg.samplerPadding()));
        return m;
    }

    @Override
    public ForwardShape shape() { return shape; }

    @Override
    public void run(float[] xh, float[] xl, float[] mask, float[] hrOut, float[] lrOut, StageTimes times) {
        forward(xh, xl, mask, hrOut, lrOut, null, times);
    }

    /**
     * The fpn-add level sum is made by the hr reassembly, row by row, while each hr_out row is still in cache; without
     * hrOut and lrOut their rows are made in cache and only the sum is written (a 128² level of 256 channels: 32 MB
     * written fewer).
     */
    @Override
    public boolean sumsWithoutOutputs() { return true; }

    @Override
    public void runAndAdd(float[] xh, float[] xl, float[] mask, float[] hrOut, float[] lrOut, float[] sum, StageTimes times) {
        forward(xh, xl, mask, hrOut, lrOut, sum, times);
    }

    /**
     * The forward; with sum non-null also sum = hrOut + lrOut. An output that is null is not wanted: the work only it
     * needs is skipped, and with a sum the level's hr_out and lr_out are made in cache rows (or in sum itself) without
     * being written out.
     */
    private void forward(float[] xh, float[] xl, float[] mask, float[] hrOut, float[] lrOut, float[] sum, StageTimes times) {
        clock.start(times);
        int ke = cfg.encoderKernel(), ed = cfg.encoderDilation(), ep = cfg.encoderPadding();
        boolean fr = cfg.featureResample();
        boolean wantHr = hrOut != null || sum != null;
        // lr_out goes to sum when only the sum is wanted (the hr reassembly then adds hr_out into it in place)
        float[] lrTarget = lrOut != null ? lrOut : sum;
        float[] lrDest = lrTarget == null ? null : fr && !blockedSampling ? lrPre : lrTarget;
        if (mask == null && !wantHr && lrTarget == null) return;

        // compressors: P_h = HC(X_h), P_l = LC(X_l)
        if (compressorPads) conv1x1AndPad(par, xh, B, H, W, packed.hrCompressor, ph, hrPadded);
        else conv2d(par, xh, B, H, W, packed.hrCompressor, 1, 0, ph, scratch);
        if (lrPadded) conv1x1AndPad(par, xl, B, h, w, packed.lrCompressor, pl, scratchLr);
        else conv2d(par, xl, B, h, w, packed.lrCompressor, 1, 0, pl, scratch);
        clock.lap(Stage.COMPRESS);

        float[] qh = ph;   // the hr compressed feature the sampler sees (P_h' on the default path)
        boolean cfu = cfg.semiConv() && cfg.compFeatUpsample();
        if (cfu) {
            // (a) initial AHPF on the compressed hr feature: P_h' = 2 P_h - CARAFE(P_h, N(E_H(P_h)))
            // K_h0 = N(Z_hh): by the encoder's units as they make Z_hh where the encoders are Winograd convs
            if (hrPadded != null) {
                conv3x3AndNormalise(par, compressorPads ? hrPadded : ph, compressorPads, B, H, W, packed.encoderHigh, zhh, hrPadded,
                        wt.hammingHighpass, kpHigh);
                clock.lap(Stage.ENCODE);
            } else {
                conv2d(par, ph, B, H, W, packed.encoderHigh, ed, ep, zhh, scratch);
                clock.lap(Stage.ENCODE);
                normalisePacked(par, zhh, B, th, H, W, wt.hammingHighpass, null, kpHigh);          // K_h0
                clock.lap(Stage.NORMALISE);
            }
            // into ph2 (null without the sampler) and, where there is one, E_L's padded copy
            carafeOfIntermediate(par, ph, B, Cc, H, W, kpHigh, cfg.highpassKernel(), 1, ph, 2f, -1f, ph2, hrPadded);
            clock.lap(Stage.REASSEMBLE);
            // (b) ALPF logits: Z_l = E_L(P_h') + CARAFE(E_L(P_l), N(E_L(P_h')), s=2)
            // and K_l0 = N(Z_lh) the same way
            if (hrPadded != null) {
                conv3x3AndNormalise(par, hrPadded, true, B, H, W, packed.encoderLow, zlh, null, wt.hammingLowpass, kp);
            } else {
                conv2d(par, ph2, B, H, W, packed.encoderLow, ed, ep, zlh, scratch);
                clock.lap(Stage.ENCODE);
                normalisePacked(par, zlh, B, tl, H, W, wt.hammingLowpass, null, kp);               // K_l0
                clock.lap(Stage.NORMALISE);
            }
            // with (c)'s AHPF lr logits Z_hl = E_H(P_l): both encoders of P_l in one pass where they stack
            if (lrPadded) {
                conv3x3Prepadded(par, scratchLr, B, h, w, packed.lrEncoders, zll, zhl, tl);
            } else if (packed.lrEncoders != null) {
                conv3x3Split(par, pl, B, h, w, packed.lrEncoders, tl, zll, zhl, scratchLr);
            } else {
                conv2d(par, pl, B, h, w, packed.encoderLow, ed, ep, zll, scratchLr);
                conv2d(par, pl, B, h, w, packed.encoderHigh, ed, ep, zhl, scratchLr);
            }
            clock.lap(Stage.ENCODE);
            // K_l = N(Z_l), each band normalised by the unit that made it (into kp: K_l0's band is then used up)
            carafeOfIntermediateAndNormalise(par, zll, B, tl, h, w, kp, cfg.lowpassKernel(), 2, zlh, 1f, 1f, zl,
                    wt.hammingLowpass, mask, kp);
            clock.lap(Stage.REASSEMBLE);
            // Z_h = Z_hh + CARAFE(Z_hl, K_l, k_l, s=2), and K_h = N(Z_h) band by band as it is made
            if (wantHr) {
                carafeOfIntermediateAndNormalise(par, zhl, B, th, h, w, kp, cfg.lowpassKernel(), 2, zhh, 1f, 1f, zh,
                        wt.hammingHighpass, null, kpHigh);
            }
            if (fuseFinal && sum != null) {
                // (d) both filters applied to the real features in one pass: lr_out = CARAFE(X_l, K_l, s=2),
                // hr_out = 2 X_h - CARAFE(X_h, K_h) and the fpn-add level sum
                clock.lap(Stage.REASSEMBLE);
                carafeFinal(par, xl, xh, B, Cl, h, w, kp, kpHigh, hrSelfScale(), lrOut, hrOut, sum);
                clock.lap(Stage.REASSEMBLE);
                return;
            }
            // (d) lr_out = CARAFE(X_l, K_l, s=2)
            if (lrDest != null) carafe(par, xl, B, Cl, h, w, kp, cfg.lowpassKernel(), 2, null, 0f, 1f, lrDest);
            clock.lap(Stage.REASSEMBLE);
            qh = ph2;
        } else if (cfg.semiConv()) {
            // 5.1: Z = E(P_h) + NearestUp(E(P_l)), no enhancement
            conv2d(par, ph, B, H, W, packed.encoderLow, ed, ep, zlh, scratch);
            conv2d(par, pl, B, h, w, packed.encoderLow, ed, ep, zll, scratchLr);
            if (cfg.useHighPass()) {
                conv2d(par, ph, B, H, W, packed.encoderHigh, ed, ep, zhh, scratch);
                conv2d(par, pl, B, h, w, packed.encoderHigh, ed, ep, zhl, scratchLr);
            }
            clock.lap(Stage.ENCODE);
            nearest(par, zll, B, tl, h, w, H, W, zlh, zl);
            if (cfg.useHighPass()) nearest(par, zhl, B, th, h, w, H, W, zhh, zh);
            clock.lap(Stage.REASSEMBLE);
            normalisePacked(par, zl, B, tl, H, W, wt.hammingLowpass, mask, kp);
            clock.lap(Stage.NORMALISE);
            if (lrDest != null) carafe(par, xl, B, Cl, h, w, kp, cfg.lowpassKernel(), 2, null, 0f, 1f, lrDest);
            clock.lap(Stage.REASSEMBLE);
        } else {
            // 5.2: P_x = NearestUp(P_l) + P_h; kernels from P_x; lr resized first, CARAFE with s=1
            nearest(par, pl, B, Cc, h, w, H, W, ph, px);
            clock.lap(Stage.REASSEMBLE);
            conv2d(par, px, B, H, W, packed.encoderLow, ed, ep, zl, scratch);
            if (cfg.useHighPass()) conv2d(par, px, B, H, W, packed.encoderHigh, ed, ep, zh, scratch);
            clock.lap(Stage.ENCODE);
            normalisePacked(par, zl, B, tl, H, W, wt.hammingLowpass, mask, kp);
            clock.lap(Stage.NORMALISE);
            if (lrDest != null) {
                if (cfg.upsampleMode() == io.freqfusion.model.UpsampleMode.NEAREST) {
                    nearest(par, xl, B, Cl, h, w, H, W, null, upLr);
                } else {
                    bilinear(par, xl, B, Cl, h, w, H, W, cfg.alignCorners(), upLr);
                }
                carafe(par, upLr, B, Cl, H, W, kp, cfg.lowpassKernel(), 1, null, 0f, 1f, lrDest);
            }
            clock.lap(Stage.REASSEMBLE);
        }

        // lr_out is final before the hr branch, so that an fpn-add sum can be made by the hr reassembly
        if (fr && lrTarget != null) {
            resample(qh, lrTarget);
            clock.lap(Stage.RESAMPLE);
        }
        if (!wantHr) return;

        // (d) hr branch: hr_out = (2 or 1) X_h - CARAFE(X_h, N(Z_h), k_h, s=1); hrOut may be null when sum is not
        if (cfg.useHighPass()) {
            if (!cfu) {
                normalisePacked(par, zh, B, th, H, W, wt.hammingHighpass, null, kpHigh);           // K_h
                clock.lap(Stage.NORMALISE);
            }   // else K_h was made with Z_h
            if (sum != null) carafeAndAdd(par, xh, B, Ch, H, W, kpHigh, cfg.highpassKernel(), 1, xh, hrSelfScale(), -1f, hrOut, lrTarget, sum);
            else carafe(par, xh, B, Ch, H, W, kpHigh, cfg.highpassKernel(), 1, xh, hrSelfScale(), -1f, hrOut);
        } else {
            if (hrOut != null) System.arraycopy(xh, 0, hrOut, 0, B * Ch * H * W);
            if (sum != null) VectorKernels.add(par, xh, lrTarget, sum);
        }
        clock.lap(Stage.REASSEMBLE);
    }

    /** X_h's factor in hr_out = f X_h - CARAFE(X_h, K_h): 2 with the hr residual (the module's default), else 1. */
    private float hrSelfScale() { return cfg.hrResidual() ? 2f : 1f; }

    /**
     * Section 6: offsets from (Q_h, P_l) and local similarities, then border grid-sampling of the reassembled lr
     * feature (lrPre, or lrOut itself, in place, when sampled in channel blocks) into lrOut.
     */
    private void resample(float[] qh, float[] lrOut) {
        int g = cfg.featureResampleGroup();
        samplerConv(qh, H, W, wt.normHrW, wt.normHrB, sh, invNormH, packed.hrSampler, hrConv, samplerRowsHr);
        samplerConv(pl, h, w, wt.normLrW, wt.normLrB, sl, invNormL, packed.lrSampler, lrConv, samplerRowsLr);
        combineOffsets(par, lrConv, hrConv, wt.initPos, B, g, h, w, delta);
        if (blockedSampling) {
            gridSampleBlocked(par, lrOut, delta, B, Cl, g, h, w, lrOut);
        } else {
            gridSampleBorder(par, lrPre, delta, B, Cl, g, h, w, lrOut);
        }
    }

    /**
     * The sampler's conv at one resolution (spec 6): conv(concat(GroupNorm(x) or x, LCS), into out, with buf (B, Cc + 8,
     * height, width) for the concat and invNorm for its norms; with rows by {@link CpuKernels#samplerInputPadded}.
     */
    private void samplerConv(float[] x, int height, int width, float[] gamma, float[] beta, float[] buf, float[] invNorm,
                             ConvWeights conv, float[] out, boolean rows) {
        int n = height * width, cs = cfg.samplerChannels();
        if (rows) {
            samplerInputPadded(par, x, B, Cc, height, width, cfg.groupNormGroups(), gamma, beta, buf, invNorm, scratch);
            conv3x3Prepadded(par, scratch, B, height, width, conv, out, null, 0);
            return;
        }
        if (cfg.featureResampleNorm()) groupNorm(par, x, B, Cc, n, cfg.groupNormGroups(), gamma, beta, buf, cs * n);
        else copyChannels(x, B, Cc, n, buf, cs * n);
        localCosineSimilarity(par, buf, B, Cc, height, width, invNorm);
        conv2d(par, buf, B, height, width, conv, 1, cfg.samplerPadding(), out, scratch);
    }

    /**
     * Stage timer that costs nothing when no one is listening. One per forward, restarted by each run (a forward runs
     * one call at a time): a timer made per call was an allocation per forward that escape analysis did not remove.
     */
    private static final class Clock {
        private StageTimes times;
        private long last;

        void start(StageTimes times) {
            this.times = times;
            this.last = times == null ? 0 : System.nanoTime();
        }

        void lap(Stage stage) {
            if (times == null) return;
            long now = System.nanoTime();
            times.add(stage, now - last);
            last = now;
        }
    }
}
