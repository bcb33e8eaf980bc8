package io.freqfusion.tornado;

import io.freqfusion.backend.ForwardShape;
import io.freqfusion.backend.ModuleForward;
import io.freqfusion.backend.Stage;
import io.freqfusion.backend.StageTimes;
import io.freqfusion.model.FreqFusionConfig;
import io.freqfusion.model.FreqFusionModule;
import io.freqfusion.model.FreqFusionWeights;
import io.freqfusion.model.UpsampleMode;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.TornadoProfilerResult;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One FreqFusion module compiled by TornadoVM for one input shape: ONE TaskGraph holding the whole forward of the
 * configured path, in the op order of {@code io.freqfusion.backend.cpu.CpuModuleForward} (spec 4, 5.1, 5.2, 6).
 * Weights are transferred once (FIRST_EXECUTION); every intermediate lives only on the device (never transferred);
 * per call only X_h, X_l go in and mask, hr_out, lr_out come out (EVERY_EXECUTION). The execution plan is built,
 * JIT-compiled and warmed up in the constructor (so {@code prepare} = compile), then reused by every {@link #run}.
 */
final class TornadoModuleForward implements ModuleForward {
    private final TornadoBackend backend;
    private final ForwardShape shape;
    private final String graphName;
    private final ImmutableTaskGraph graph;
    private final TornadoExecutionPlan plan;
    private final FloatArray xh, xl, mask, hrOut, lrOut;
    private final MemorySegment xhSeg, xlSeg, maskSeg, hrOutSeg, lrOutSeg;
    /** Stage of every task, in graph order (for StageTimes). */
    private final Map<String, Stage> stageOfTask = new LinkedHashMap<>();
    private boolean closed;
    private boolean profiling;

    TornadoModuleForward(TornadoBackend backend, FreqFusionModule module, ForwardShape shape, String graphName) {
        this.backend = backend;
        this.shape = shape;
        this.graphName = graphName;
        FreqFusionConfig cfg = module.config();
        FreqFusionWeights wt = module.weights();
        final int B = shape.batch(), Ch = cfg.hrChannels(), Cl = cfg.lrChannels(), Cc = cfg.compressedChannels();
        final int H = shape.hrHeight(), W = shape.hrWidth(), h = shape.lrHeight(), w = shape.lrWidth();
        final int nH = H * W, nL = h * w, tl = cfg.lowpassTaps(), th = cfg.highpassTaps();
        final int kl = cfg.lowpassKernel(), khp = cfg.highpassKernel();
        final int ke = cfg.encoderKernel(), ed = cfg.encoderDilation(), ep = cfg.encoderPadding();
        final boolean semi = cfg.semiConv(), cfu = semi && cfg.compFeatUpsample(), hp = cfg.useHighPass(), fr = cfg.featureResample();

        // inputs and outputs (cross the bus every call)
        xh = buffer(B * Ch * nH);
        xl = buffer(B * Cl * nL);
        mask = buffer(B * tl * nH);
        hrOut = buffer(B * Ch * nH);
        lrOut = buffer(B * Cl * nH);
        xhSeg = xh.getSegment();
        xlSeg = xl.getSegment();
        maskSeg = mask.getSegment();
        hrOutSeg = hrOut.getSegment();
        lrOutSeg = lrOut.getSegment();

        // weights (cross once)
        List<Object> weights = new ArrayList<>();
        FloatArray hcW = weight(weights, wt.hrCompressorW), hcB = weight(weights, wt.hrCompressorB);
        FloatArray lcW = weight(weights, wt.lrCompressorW), lcB = weight(weights, wt.lrCompressorB);
        FloatArray eW = weight(weights, wt.encoderW), eB = weight(weights, wt.encoderB);
        FloatArray e2W = hp ? weight(weights, wt.encoder2W) : null, e2B = hp ? weight(weights, wt.encoder2B) : null;
        FloatArray hamL = weight(weights, hammingTaps(wt.hammingLowpass, tl));
        FloatArray hamH = hp ? weight(weights, hammingTaps(wt.hammingHighpass, th)) : null;

        TaskGraph tg = new TaskGraph(graphName);
        tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, xh, xl);
        // (weights of the sampler are added below; all FIRST_EXECUTION transfers are declared before the tasks)
        List<Runnable> tasks = new ArrayList<>();

        // device-only intermediates (spec symbols)
        FloatArray ph = buffer(B * Cc * nH), pl = buffer(B * Cc * nL);
        FloatArray lrDest = fr ? buffer(B * Cl * nH) : lrOut;
        FloatArray qh = ph;

        // compressors: P_h = HC(X_h), P_l = LC(X_l) (spec 3, 4)
        convStage(tasks, tg, "compress_hr", Stage.COMPRESS, xh, hcW, hcB, ph, B, Ch, H, W, Cc, 1, 1, 0);
        convStage(tasks, tg, "compress_lr", Stage.COMPRESS, xl, lcW, lcB, pl, B, Cl, h, w, Cc, 1, 1, 0);

        FloatArray zh = hp ? buffer(B * th * nH) : null;
        if (cfu) {
            // spec 4 (default path)
            FloatArray zhh = buffer(B * th * nH), kh0 = buffer(B * th * nH), ph2 = buffer(B * Cc * nH);
            FloatArray zlh = buffer(B * tl * nH), zll = buffer(B * tl * nL), zhl = buffer(B * th * nL);
            FloatArray kl0 = buffer(B * tl * nH), zl = buffer(B * tl * nH);
            // (a) Z_hh = E_H(P_h); K_h0 = N(Z_hh); P_h' = 2 P_h - CARAFE(P_h, K_h0, k_h, 1)
            conv(tasks, tg, "enc_hh", ph, e2W, e2B, zhh, B, Cc, H, W, th, ke, ed, ep);
            task(tasks, "norm_kh0", Stage.NORMALISE, () -> tg.task(id("norm_kh0"), FreqFusionKernels::normalise, zhh, hamH, kh0, th, nH, B * nH));
            task(tasks, "carafe_ph", Stage.REASSEMBLE, () -> tg.task(id("carafe_ph"), FreqFusionKernels::carafeCombine,
                    ph, kh0, ph, ph2, Cc, H, W, khp, 1, 2f, -1f, B * Cc * nH));
            // (b) Z_lh = E_L(P_h'); Z_ll = E_L(P_l); (c) Z_hl = E_H(P_l)
            conv(tasks, tg, "enc_lh", ph2, eW, eB, zlh, B, Cc, H, W, tl, ke, ed, ep);
            conv(tasks, tg, "enc_ll", pl, eW, eB, zll, B, Cc, h, w, tl, ke, ed, ep);
            conv(tasks, tg, "enc_hl", pl, e2W, e2B, zhl, B, Cc, h, w, th, ke, ed, ep);
            // K_l0 = N(Z_lh); Z_l = Z_lh + CARAFE(Z_ll, K_l0, k_l, 2); K_l = N(Z_l) (the returned mask)
            task(tasks, "norm_kl0", Stage.NORMALISE, () -> tg.task(id("norm_kl0"), FreqFusionKernels::normalise, zlh, hamL, kl0, tl, nH, B * nH));
            task(tasks, "carafe_zl", Stage.REASSEMBLE, () -> tg.task(id("carafe_zl"), FreqFusionKernels::carafeCombine,
                    zll, kl0, zlh, zl, tl, h, w, kl, 2, 1f, 1f, B * tl * nH));
            task(tasks, "norm_kl", Stage.NORMALISE, () -> tg.task(id("norm_kl"), FreqFusionKernels::normalise, zl, hamL, mask, tl, nH, B * nH));
            // Z_h = Z_hh + CARAFE(Z_hl, K_l, k_l, 2)
            task(tasks, "carafe_zh", Stage.REASSEMBLE, () -> tg.task(id("carafe_zh"), FreqFusionKernels::carafeCombine,
                    zhl, mask, zhh, zh, th, h, w, kl, 2, 1f, 1f, B * th * nH));
            // (d) lr_out = CARAFE(X_l, K_l, k_l, 2)
            task(tasks, "carafe_lr", Stage.REASSEMBLE, () -> tg.task(id("carafe_lr"), FreqFusionKernels::carafe,
                    xl, mask, lrDest, Cl, h, w, kl, 2, B * Cl * nH));
            qh = ph2;
        } else if (semi) {
            // spec 5.1: Z = E(P_h) + NearestUp(E(P_l)), no enhancement
            FloatArray zlh = buffer(B * tl * nH), zll = buffer(B * tl * nL), zl = buffer(B * tl * nH);
            FloatArray zhh = hp ? buffer(B * th * nH) : null, zhl = hp ? buffer(B * th * nL) : null;
            conv(tasks, tg, "enc_lh", ph, eW, eB, zlh, B, Cc, H, W, tl, ke, ed, ep);
            conv(tasks, tg, "enc_ll", pl, eW, eB, zll, B, Cc, h, w, tl, ke, ed, ep);
            if (hp) {
                conv(tasks, tg, "enc_hh", ph, e2W, e2B, zhh, B, Cc, H, W, th, ke, ed, ep);
                conv(tasks, tg, "enc_hl", pl, e2W, e2B, zhl, B, Cc, h, w, th, ke, ed, ep);
            }
            float sy = (float) h / (float) H, sx = (float) w / (float) W;
            task(tasks, "nearest_zl", Stage.REASSEMBLE, () -> tg.task(id("nearest_zl"), FreqFusionKernels::nearestAdd,
                    zll, zlh, zl, h, w, H, W, sy, sx, B * tl * nH));
            if (hp) {
                task(tasks, "nearest_zh", Stage.REASSEMBLE, () -> tg.task(id("nearest_zh"), FreqFusionKernels::nearestAdd,
                        zhl, zhh, zh, h, w, H, W, sy, sx, B * th * nH));
            }
            task(tasks, "norm_kl", Stage.NORMALISE, () -> tg.task(id("norm_kl"), FreqFusionKernels::normalise, zl, hamL, mask, tl, nH, B * nH));
            task(tasks, "carafe_lr", Stage.REASSEMBLE, () -> tg.task(id("carafe_lr"), FreqFusionKernels::carafe,
                    xl, mask, lrDest, Cl, h, w, kl, 2, B * Cl * nH));
        } else {
            // spec 5.2: P_x = NearestUp(P_l) + P_h; kernels from P_x; X_l resized first, CARAFE with s = 1
            FloatArray px = buffer(B * Cc * nH), zl = buffer(B * tl * nH), upLr = buffer(B * Cl * nH);
            float sy = (float) h / (float) H, sx = (float) w / (float) W;
            task(tasks, "nearest_px", Stage.REASSEMBLE, () -> tg.task(id("nearest_px"), FreqFusionKernels::nearestAdd,
                    pl, ph, px, h, w, H, W, sy, sx, B * Cc * nH));
            conv(tasks, tg, "enc_lh", px, eW, eB, zl, B, Cc, H, W, tl, ke, ed, ep);
            if (hp) conv(tasks, tg, "enc_hh", px, e2W, e2B, zh, B, Cc, H, W, th, ke, ed, ep);
            task(tasks, "norm_kl", Stage.NORMALISE, () -> tg.task(id("norm_kl"), FreqFusionKernels::normalise, zl, hamL, mask, tl, nH, B * nH));
            if (cfg.upsampleMode() == UpsampleMode.NEAREST) {
                task(tasks, "resize_lr", Stage.REASSEMBLE, () -> tg.task(id("resize_lr"), FreqFusionKernels::nearest,
                        xl, upLr, h, w, H, W, sy, sx, B * Cl * nH));
            } else {
                boolean ac = cfg.alignCorners();
                float scy = ac ? (H > 1 ? (float) (h - 1) / (H - 1) : 0f) : (float) h / H;
                float scx = ac ? (W > 1 ? (float) (w - 1) / (W - 1) : 0f) : (float) w / W;
                task(tasks, "resize_lr", Stage.REASSEMBLE, () -> tg.task(id("resize_lr"), FreqFusionKernels::bilinear,
                        xl, upLr, h, w, H, W, scy, scx, ac ? 1 : 0, B * Cl * nH));
            }
            task(tasks, "carafe_lr", Stage.REASSEMBLE, () -> tg.task(id("carafe_lr"), FreqFusionKernels::carafe,
                    upLr, mask, lrDest, Cl, H, W, kl, 1, B * Cl * nH));
        }

        // (d) hr branch: hr_out = (2|1) X_h - CARAFE(X_h, N(Z_h), k_h, 1), or X_h without the high-pass
        if (hp) {
            FloatArray kh = buffer(B * th * nH);
            task(tasks, "norm_kh", Stage.NORMALISE, () -> tg.task(id("norm_kh"), FreqFusionKernels::normalise, zh, hamH, kh, th, nH, B * nH));
            float self = cfg.hrResidual() ? 2f : 1f;
            task(tasks, "carafe_hr", Stage.REASSEMBLE, () -> tg.task(id("carafe_hr"), FreqFusionKernels::carafeCombine,
                    xh, kh, xh, hrOut, Ch, H, W, khp, 1, self, -1f, B * Ch * nH));
        } else {
            task(tasks, "copy_hr", Stage.REASSEMBLE, () -> tg.task(id("copy_hr"), FreqFusionKernels::copy, xh, hrOut, B * Ch * nH));
        }

        if (fr) addResampler(tasks, tg, weights, cfg, wt, B, H, W, h, w, qh, pl, lrDest);

        tg.transferToDevice(DataTransferMode.FIRST_EXECUTION, weights.toArray());
        for (Runnable t : tasks) t.run();
        tg.transferToHost(DataTransferMode.EVERY_EXECUTION, mask, hrOut, lrOut);

        graph = tg.snapshot();
        TornadoBackend.RUNTIME_LOCK.lock();
        try {
            plan = new TornadoExecutionPlan(graph);
            plan.withDevice(backend.tornadoDevice());
            if (backend.isOpenCL()) plan.withCompilerFlags(TornadoVMBackendType.OPENCL, backend.compilerFlags());
            profiling = backend.profiling();
            if (profiling) plan.withProfiler(ProfilerMode.SILENT);
            // Warm-up: JIT-compiles every task, transfers the weights, runs once on zero inputs.
            long t0 = System.nanoTime();
            TornadoExecutionResult r = plan.execute();
            long wall = System.nanoTime() - t0;
            TornadoBackend.ExecutionProfile p = profile(r, wall);
            backend.recordCompile(p != null && p.compileNanos() > 0 ? p.compileNanos() : wall);
            backend.recordExecution(p);
        } catch (RuntimeException | Error e) {
            closeQuietly();
            throw new IllegalStateException("tornado backend: cannot compile/run the FreqFusion graph " + graphName + " for " + shape
                    + " on " + backend.device() + ": " + e.getMessage(), e);
        } finally {
            TornadoBackend.RUNTIME_LOCK.unlock();
        }
    }

    /** Spec 6: offsets from (Q_h, P_l) and local similarities, then border grid-sampling of lrPre into lr_out. */
    private void addResampler(List<Runnable> tasks, TaskGraph tg, List<Object> weights, FreqFusionConfig cfg, FreqFusionWeights wt,
                              int B, int H, int W, int h, int w, FloatArray qh, FloatArray pl, FloatArray lrPre) {
        final int Cc = cfg.compressedChannels(), cs = cfg.samplerChannels(), g = cfg.featureResampleGroup();
        final int ke = cfg.encoderKernel(), pad = cfg.samplerPadding(), Cl = cfg.lrChannels();
        final int nH = H * W, nL = h * w;
        FloatArray offW = weight(weights, wt.offsetW), offB = weight(weights, wt.offsetB);
        FloatArray dsW = weight(weights, wt.directScaleW), dsB = weight(weights, wt.directScaleB);
        FloatArray hoW = weight(weights, wt.hrOffsetW), hoB = weight(weights, wt.hrOffsetB);
        FloatArray hdW = weight(weights, wt.hrDirectScaleW), hdB = weight(weights, wt.hrDirectScaleB);
        FloatArray initPos = weight(weights, wt.initPos);
        FloatArray sh = buffer(B * cs * nH), sl = buffer(B * cs * nL);
        FloatArray invH = buffer(B * nH), invL = buffer(B * nL);
        FloatArray hrOff = buffer(B * 2 * g * nH), hrScale = buffer(B * 2 * g * nH);
        FloatArray lrOff = buffer(B * 8 * g * nL), lrScale = buffer(B * 8 * g * nL), delta = buffer(B * 8 * g * nL);
        if (cfg.featureResampleNorm()) {
            int groups = cfg.groupNormGroups(), cpg = Cc / groups;
            FloatArray gHrW = weight(weights, wt.normHrW), gHrB = weight(weights, wt.normHrB);
            FloatArray gLrW = weight(weights, wt.normLrW), gLrB = weight(weights, wt.normLrB);
            FloatArray statsH = buffer(2 * B * groups), statsL = buffer(2 * B * groups);
            task(tasks, "gn_stats_hr", Stage.RESAMPLE, () -> tg.task(id("gn_stats_hr"), FreqFusionKernels::groupNormStats, qh, statsH, cpg, nH, B * groups));
            task(tasks, "gn_hr", Stage.RESAMPLE, () -> tg.task(id("gn_hr"), FreqFusionKernels::groupNormApply, qh, statsH, gHrW, gHrB, sh, Cc, cpg, nH, cs, B * Cc * nH));
            task(tasks, "gn_stats_lr", Stage.RESAMPLE, () -> tg.task(id("gn_stats_lr"), FreqFusionKernels::groupNormStats, pl, statsL, cpg, nL, B * groups));
            task(tasks, "gn_lr", Stage.RESAMPLE, () -> tg.task(id("gn_lr"), FreqFusionKernels::groupNormApply, pl, statsL, gLrW, gLrB, sl, Cc, cpg, nL, cs, B * Cc * nL));
        } else {
            task(tasks, "copy_sh", Stage.RESAMPLE, () -> tg.task(id("copy_sh"), FreqFusionKernels::copyChannels, qh, sh, Cc, nH, cs, B * Cc * nH));
            task(tasks, "copy_sl", Stage.RESAMPLE, () -> tg.task(id("copy_sl"), FreqFusionKernels::copyChannels, pl, sl, Cc, nL, cs, B * Cc * nL));
        }
        task(tasks, "lcs_norm_hr", Stage.RESAMPLE, () -> tg.task(id("lcs_norm_hr"), FreqFusionKernels::channelInvNorm, sh, invH, Cc, nH, B * nH));
        task(tasks, "lcs_hr", Stage.RESAMPLE, () -> tg.task(id("lcs_hr"), FreqFusionKernels::localCosineSimilarity, sh, invH, Cc, H, W, B * 8 * nH));
        task(tasks, "lcs_norm_lr", Stage.RESAMPLE, () -> tg.task(id("lcs_norm_lr"), FreqFusionKernels::channelInvNorm, sl, invL, Cc, nL, B * nL));
        task(tasks, "lcs_lr", Stage.RESAMPLE, () -> tg.task(id("lcs_lr"), FreqFusionKernels::localCosineSimilarity, sl, invL, Cc, h, w, B * 8 * nL));
        convStage(tasks, tg, "off_lr", Stage.RESAMPLE, sl, offW, offB, lrOff, B, cs, h, w, 8 * g, ke, 1, pad);
        convStage(tasks, tg, "scale_lr", Stage.RESAMPLE, sl, dsW, dsB, lrScale, B, cs, h, w, 8 * g, ke, 1, pad);
        convStage(tasks, tg, "off_hr", Stage.RESAMPLE, sh, hoW, hoB, hrOff, B, cs, H, W, 2 * g, ke, 1, pad);
        convStage(tasks, tg, "scale_hr", Stage.RESAMPLE, sh, hdW, hdB, hrScale, B, cs, H, W, 2 * g, ke, 1, pad);
        task(tasks, "offsets", Stage.RESAMPLE, () -> tg.task(id("offsets"), FreqFusionKernels::combineOffsets,
                lrOff, lrScale, hrOff, hrScale, initPos, delta, g, h, w, B * 8 * g * nL));
        task(tasks, "grid_sample", Stage.RESAMPLE, () -> tg.task(id("grid_sample"), FreqFusionKernels::gridSampleBorder,
                lrPre, delta, lrOut, Cl, g, h, w, B * Cl * nH));
    }

    private void conv(List<Runnable> tasks, TaskGraph tg, String name, FloatArray x, FloatArray wgt, FloatArray bias, FloatArray out,
                      int B, int ci, int h, int w, int co, int k, int dil, int pad) {
        convStage(tasks, tg, name, Stage.ENCODE, x, wgt, bias, out, B, ci, h, w, co, k, dil, pad);
    }

    private void convStage(List<Runnable> tasks, TaskGraph tg, String name, Stage stage, FloatArray x, FloatArray wgt, FloatArray bias,
                           FloatArray out, int B, int ci, int h, int w, int co, int k, int dil, int pad) {
        int ho = h + 2 * pad - dil * (k - 1), wo = w + 2 * pad - dil * (k - 1);
        if (k == 1 && pad == 0 && co % 4 == 0) {
            task(tasks, name, stage, () -> tg.task(id(name), FreqFusionKernels::conv1x1x4, x, wgt, bias, out, ci, co, h * w, B * (co / 4) * h * w));
        } else if (k == 1 && pad == 0) {
            task(tasks, name, stage, () -> tg.task(id(name), FreqFusionKernels::conv1x1, x, wgt, bias, out, ci, co, h * w, B * co * h * w));
        } else {
            task(tasks, name, stage, () -> tg.task(id(name), FreqFusionKernels::conv2d, x, wgt, bias, out, ci, h, w, co, k, dil, pad, ho, wo, B * co * ho * wo));
        }
    }

    private void task(List<Runnable> tasks, String name, Stage stage, Runnable add) {
        stageOfTask.put(name, stage);
        tasks.add(add);
    }

    private static String id(String task) { return task; }

    private FloatArray weight(List<Object> weights, float[] data) {
        FloatArray a = FloatArray.fromArray(data);
        bufferBytes += 4L * data.length;
        weights.add(a);
        return a;
    }

    /** Bytes of the buffers this forward allocated (host segments, mirrored on the device). */
    private long bufferBytes;

    private FloatArray buffer(int n) {
        bufferBytes += 4L * n;
        return new FloatArray(n);
    }

    @Override
    public long scratchBytes() { return bufferBytes; }

    /** The Hamming buffer expanded to one weight per tap (a single 1.0 when hamming_window is off). */
    private static float[] hammingTaps(float[] ham, int taps) {
        if (ham.length == taps) return ham;
        float[] t = new float[taps];
        java.util.Arrays.fill(t, ham[0]);
        return t;
    }

    @Override
    public ForwardShape shape() { return shape; }

    @Override
    public void run(float[] hr, float[] lr, float[] maskOut, float[] hrOutArr, float[] lrOutArr, StageTimes times) {
        TornadoBackend.RUNTIME_LOCK.lock();
        try {
            if (closed) throw new IllegalStateException("tornado forward " + graphName + " is closed");
            long t0 = System.nanoTime();
            MemorySegment.copy(hr, 0, xhSeg, ValueLayout.JAVA_FLOAT, 0, xh.getSize());
            MemorySegment.copy(lr, 0, xlSeg, ValueLayout.JAVA_FLOAT, 0, xl.getSize());
            TornadoExecutionResult r = plan.execute();
            // outputs the caller does not want (null) stay on the host side of the device buffers
            if (maskOut != null) MemorySegment.copy(maskSeg, ValueLayout.JAVA_FLOAT, 0, maskOut, 0, mask.getSize());
            if (hrOutArr != null) MemorySegment.copy(hrOutSeg, ValueLayout.JAVA_FLOAT, 0, hrOutArr, 0, hrOut.getSize());
            if (lrOutArr != null) MemorySegment.copy(lrOutSeg, ValueLayout.JAVA_FLOAT, 0, lrOutArr, 0, lrOut.getSize());
            long wall = System.nanoTime() - t0;
            TornadoBackend.ExecutionProfile p = profile(r, wall);
            backend.recordExecution(p);
            if (times != null) attribute(times, wall, p);
            if (profiling && ProfilerLogs.exhausted()) {
                plan.withoutProfiler();   // TornadoVM's log would grow without bound
                profiling = false;
            }
        } finally {
            TornadoBackend.RUNTIME_LOCK.unlock();
        }
    }

    /**
     * Splits the wall time of one call over the stages in proportion to their tasks' device kernel times, so that the
     * stages add up to the call's wall time (transfers and dispatch spread with the work). Without a profile, all of it
     * goes to REASSEMBLE.
     */
    private void attribute(StageTimes times, long wall, TornadoBackend.ExecutionProfile p) {
        long sum = 0;
        long[] perStage = new long[Stage.values().length];
        if (p != null) {
            for (var e : p.taskKernelNanos().entrySet()) {
                Stage s = stageOfTask.get(e.getKey());
                if (s != null) {
                    perStage[s.ordinal()] += e.getValue();
                    sum += e.getValue();
                }
            }
        }
        if (sum <= 0) {
            times.add(Stage.REASSEMBLE, wall);
            return;
        }
        long given = 0;
        Stage biggest = Stage.REASSEMBLE;
        for (Stage s : Stage.values()) {
            long v = (long) ((double) wall * perStage[s.ordinal()] / sum);
            if (perStage[s.ordinal()] > perStage[biggest.ordinal()]) biggest = s;
            times.add(s, v);
            given += v;
        }
        times.add(biggest, wall - given);
    }

    private static final Pattern TASK_BLOCK = Pattern.compile("\"([^\"]+)\"\\s*:\\s*\\{([^{}]*)\\}");
    private static final Pattern KERNEL_TIME = Pattern.compile("\"TASK_KERNEL_TIME\"\\s*:\\s*\"(\\d+)\"");

    /** Reads TornadoVM's profiler result for this call (null when profiling is off), then clears its accumulated log. */
    private TornadoBackend.ExecutionProfile profile(TornadoExecutionResult r, long wall) {
        if (!profiling || r == null) return null;
        TornadoProfilerResult pr = r.getProfilerResult();
        if (pr == null) return null;
        Map<String, Long> perTask = new LinkedHashMap<>();
        String log = ProfilerLogs.takeLog(graph, pr);
        if (log != null && !log.isEmpty()) {
            Matcher m = TASK_BLOCK.matcher(log);
            while (m.find()) {
                String key = m.group(1);
                if (!key.startsWith(graphName + ".")) continue;
                Matcher k = KERNEL_TIME.matcher(m.group(2));
                if (k.find()) perTask.put(key.substring(graphName.length() + 1), Long.parseLong(k.group(1)));
            }
        }
        return new TornadoBackend.ExecutionProfile(graphName, wall, safe(pr::getTotalTime), safe(pr::getCompileTime), safe(pr::getDeviceKernelTime),
                safe(pr::getDeviceWriteTime), safe(pr::getDeviceReadTime), safe(pr::getTotalBytesCopyIn), safe(pr::getTotalBytesCopyOut),
                Collections.unmodifiableMap(perTask));
    }

    private static long safe(java.util.function.LongSupplier s) {
        try {
            return Math.max(0, s.getAsLong());
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /** Task names of this graph in execution order. */
    List<String> taskNames() { return List.copyOf(stageOfTask.keySet()); }

    @Override
    public void close() {
        TornadoBackend.RUNTIME_LOCK.lock();
        try {
            closeQuietly();
        } finally {
            TornadoBackend.RUNTIME_LOCK.unlock();
        }
    }

    private void closeQuietly() {
        if (closed) return;
        closed = true;
        if (plan == null) return;
        try {
            plan.freeDeviceMemory();
            plan.close();
        } catch (Exception ignored) {
            // best effort: the device memory goes with the process otherwise
        }
    }
}
