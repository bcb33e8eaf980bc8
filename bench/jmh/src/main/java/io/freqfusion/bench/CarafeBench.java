package io.freqfusion.bench;

import io.freqfusion.backend.cpu.CpuKernels;
import io.freqfusion.backend.cpu.Parallel;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

import static io.freqfusion.bench.BenchData.*;

/**
 * CARAFE reassembly (mmcv semantics) at W2:
 * s = 1: the hr branch, hr_out = 2 X_h - CARAFE(X_h, K_h, k 3) on (1, 256, 64, 64);
 * s = 2: the lr branch, lr_out = CARAFE(X_l, K_l, k 5, s 2) from (1, 256, 32, 32) to (1, 256, 64, 64);
 * s = 1 normalising K_h from its logits (3x3 Hamming window) into the packed layout first, as the forward runs
 * the hr branch. Kernels are pair-packed (CpuKernels.packKernel) in the setup.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC", "-XX:+UseTransparentHugePages"})
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
public class CarafeBench {
    @Param({"1", "2"})
    public int threads;

    Parallel par;
    float[] xh, kh, zh, hammingH, outH, packedH;
    float[] xl, kl, outL;

    @Setup
    public void setup() {
        par = new Parallel(threads);
        xh = normal(B * C * H * W, 1f, 1);
        kh = packed(softmaxKernels(TAPS_HIGH, H * W, 2), TAPS_HIGH, H, W);
        packedH = new float[CpuKernels.packedKernelSize(B, TAPS_HIGH, H, W)];
        zh = normal(TAPS_HIGH * H * W, 1f, 5);
        hammingH = hamming2d(K_HIGH);
        outH = new float[B * C * H * W];
        xl = normal(B * C * h * w, 1f, 3);
        kl = packed(softmaxKernels(TAPS_LOW, H * W, 4), TAPS_LOW, H, W);
        outL = new float[B * C * H * W];
    }

    private float[] packed(float[] kernel, int taps, int H, int W) {
        float[] p = new float[CpuKernels.packedKernelSize(B, taps, H, W)];
        CpuKernels.packKernel(par, kernel, B, taps, H, W, p);
        return p;
    }

    @TearDown
    public void tearDown() { par.close(); }

    @Benchmark
    public float[] s1HighpassK3() {
        CpuKernels.carafe(par, xh, B, C, H, W, kh, K_HIGH, 1, xh, 2f, -1f, outH);
        return outH;
    }

    @Benchmark
    public float[] s1HighpassK3WithNormalise() {
        CpuKernels.normalisePacked(par, zh, B, TAPS_HIGH, H, W, hammingH, null, packedH);
        CpuKernels.carafe(par, xh, B, C, H, W, packedH, K_HIGH, 1, xh, 2f, -1f, outH);
        return outH;
    }

    @Benchmark
    public float[] s2LowpassK5() {
        CpuKernels.carafe(par, xl, B, C, h, w, kl, K_LOW, 2, null, 0f, 1f, outL);
        return outL;
    }
}
