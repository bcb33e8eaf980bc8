package io.freqfusion.bench;

import io.freqfusion.backend.cpu.ConvWeights;
import io.freqfusion.backend.cpu.CpuKernels;
import io.freqfusion.backend.cpu.Parallel;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

import static io.freqfusion.bench.BenchData.*;

/**
 * k x k convolution: the content encoders at W2 on the compressed hr feature (1, 64, 64, 64), k = 3, pad 1:
 * low-pass logits (25 channels) and high-pass logits (9 channels).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC", "-XX:+UseTransparentHugePages"})
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
public class ConvKxKBench {
    @Param({"1", "2"})
    public int threads;

    Parallel par;
    float[] x, outLow, outHigh, scratch;
    ConvWeights low, high;

    @Setup
    public void setup() {
        par = new Parallel(threads);
        x = normal(B * CC * H * W, 1f, 1);
        // packed once, as a plan does
        low = ConvWeights.pack(convWeight(TAPS_LOW, CC, K_ENC, 2), normal(TAPS_LOW, 0.1f, 3), TAPS_LOW, CC, K_ENC);
        high = ConvWeights.pack(convWeight(TAPS_HIGH, CC, K_ENC, 4), normal(TAPS_HIGH, 0.1f, 5), TAPS_HIGH, CC, K_ENC);
        outLow = new float[B * TAPS_LOW * H * W];
        outHigh = new float[B * TAPS_HIGH * H * W];
        scratch = new float[CpuKernels.convScratch(B, CC, H, W, K_ENC, K_ENC / 2)];
    }

    @TearDown
    public void tearDown() { par.close(); }

    @Benchmark
    public float[] encoderLowpass() {
        CpuKernels.conv2d(par, x, B, H, W, low, 1, K_ENC / 2, outLow, scratch);
        return outLow;
    }

    @Benchmark
    public float[] encoderHighpass() {
        CpuKernels.conv2d(par, x, B, H, W, high, 1, K_ENC / 2, outHigh, scratch);
        return outHigh;
    }
}
