package io.freqfusion.bench;

import io.freqfusion.backend.cpu.ConvWeights;
import io.freqfusion.backend.cpu.CpuKernels;
import io.freqfusion.backend.cpu.Parallel;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

import static io.freqfusion.bench.BenchData.*;

/** 1x1 convolution: the hr channel compressor at W2, (1, 256, 64, 64) -> (1, 64, 64, 64). 2 * 256 * 64 * 4096 FLOP. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC", "-XX:+UseTransparentHugePages"})
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
public class Conv1x1Bench {
    @Param({"1", "2"})
    public int threads;

    Parallel par;
    float[] x, out;
    ConvWeights weights;

    @Setup
    public void setup() {
        par = new Parallel(threads);
        x = normal(B * C * H * W, 1f, 1);
        weights = ConvWeights.pack(convWeight(CC, C, 1, 2), normal(CC, 0.1f, 3), CC, C, 1);   // packed once, as a plan does
        out = new float[B * CC * H * W];
    }

    @TearDown
    public void tearDown() { par.close(); }

    @Benchmark
    public float[] compressorHr() {
        CpuKernels.conv2d(par, x, B, H, W, weights, 1, 0, out, null);
        return out;
    }
}
