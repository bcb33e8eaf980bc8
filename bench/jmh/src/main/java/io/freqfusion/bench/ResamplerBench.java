package io.freqfusion.bench;

import io.freqfusion.backend.cpu.ConvWeights;
import io.freqfusion.backend.cpu.CpuKernels;
import io.freqfusion.backend.cpu.Parallel;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

import static io.freqfusion.bench.BenchData.*;

/**
 * The offset-guided feature resampler (spec section 6) of the paper configuration at W2, in the order the CPU
 * forward runs it (CpuModuleForward.resample): GroupNorm of Q_h and P_l into the sampler buffers, local cosine
 * similarity (8 neighbours), the four 3x3 offset/scale convolutions, combineOffsets, border grid-sampling of
 * the (1, 256, 64, 64) pre-resample lr output; and the sampling step alone in its two forms, at offsets spread
 * like the bench workload's (normal, sigma 0.75 LR pixels: median |delta| ~0.5, as measured there, so that most
 * vectors of samples are not consecutive pixels).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC", "-XX:+UseTransparentHugePages"})
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
public class ResamplerBench {
    @Param({"1", "2"})
    public int threads;

    static final int G = SAMPLER_GROUPS, PAD = K_ENC / 2;

    Parallel par;
    float[] qh, pl, lrPre, lrOut;
    float[] gnHrW, gnHrB, gnLrW, gnLrB, offW, offB, scaleW, scaleB, hrOffW, hrOffB, hrScaleW, hrScaleB, initPos;
    float[] sh, sl, invNormH, invNormL, hrConv, lrConv, delta, scratch;
    ConvWeights lrSampler, hrSampler;

    @Setup
    public void setup() {
        par = new Parallel(threads);
        int nH = B * H * W, nL = B * h * w;
        qh = normal(nH * CC, 1f, 1);
        pl = normal(nL * CC, 1f, 2);
        lrPre = normal(nH * C, 1f, 3);
        lrOut = new float[nH * C];
        gnHrW = normal(CC, 1f, 4);
        gnHrB = normal(CC, 0.1f, 5);
        gnLrW = normal(CC, 1f, 6);
        gnLrB = normal(CC, 0.1f, 7);
        // offset convs are initialised small (std 0.001) in the reference; scale convs zero-ish: keep them small
        offW = normal(8 * G * CS * K_ENC * K_ENC, 1e-3f, 8);
        offB = new float[8 * G];
        scaleW = normal(8 * G * CS * K_ENC * K_ENC, 1e-3f, 9);
        scaleB = new float[8 * G];
        hrOffW = normal(2 * G * CS * K_ENC * K_ENC, 1e-3f, 10);
        hrOffB = new float[2 * G];
        hrScaleW = normal(2 * G * CS * K_ENC * K_ENC, 1e-3f, 11);
        hrScaleB = new float[2 * G];
        initPos = normal(8 * G, 0.25f, 12);
        sh = new float[nH * CS];
        sl = new float[nL * CS];
        invNormH = new float[nH];
        invNormL = new float[nL];
        // offset and direct-scale convs stacked, as the forward runs them (one conv per input)
        lrSampler = ConvWeights.pack(concat(offW, scaleW), concat(offB, scaleB), 16 * G, CS, K_ENC);
        hrSampler = ConvWeights.pack(concat(hrOffW, hrScaleW), concat(hrOffB, hrScaleB), 4 * G, CS, K_ENC);
        hrConv = new float[nH * 4 * G];
        lrConv = new float[nL * 16 * G];
        delta = normal(nL * 8 * G, 0.75f, 13);
        scratch = new float[CpuKernels.convScratch(B, CS, H, W, K_ENC, PAD)];
    }

    private static float[] concat(float[] a, float[] b) {
        float[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    @TearDown
    public void tearDown() { par.close(); }

    @Benchmark
    public float[] paperW2() {
        int nHW = H * W, nhw = h * w;
        CpuKernels.groupNorm(par, qh, B, CC, nHW, GN_GROUPS, gnHrW, gnHrB, sh, CS * nHW);
        CpuKernels.groupNorm(par, pl, B, CC, nhw, GN_GROUPS, gnLrW, gnLrB, sl, CS * nhw);
        CpuKernels.localCosineSimilarity(par, sh, B, CC, H, W, invNormH);
        CpuKernels.localCosineSimilarity(par, sl, B, CC, h, w, invNormL);
        CpuKernels.conv2d(par, sl, B, h, w, lrSampler, 1, PAD, lrConv, scratch);
        CpuKernels.conv2d(par, sh, B, H, W, hrSampler, 1, PAD, hrConv, scratch);
        CpuKernels.combineOffsets(par, lrConv, hrConv, initPos, B, G, h, w, delta);
        if (CpuKernels.blockedSampling(C, G)) CpuKernels.gridSampleBlocked(par, lrPre, delta, B, C, G, h, w, lrOut);
        else CpuKernels.gridSampleBorder(par, lrPre, delta, B, C, G, h, w, lrOut);
        return lrOut;
    }

    /** The sampling step alone, channel-major with gathers (the path for groups of other than 8k channels). */
    @Benchmark
    public float[] gridSampleGathers() {
        CpuKernels.gridSampleBorder(par, lrPre, delta, B, C, G, h, w, lrOut);
        return lrOut;
    }

    /** The sampling step alone, per 8-channel block from a channel-last copy (the forward's path here). */
    @Benchmark
    public float[] gridSampleBlocked() {
        CpuKernels.gridSampleBlocked(par, lrPre, delta, B, C, G, h, w, lrOut);
        return lrOut;
    }
}
