package io.freqfusion.bench;

import io.freqfusion.backend.cpu.CpuKernels;
import io.freqfusion.backend.cpu.Parallel;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

import static io.freqfusion.bench.BenchData.*;

/** Kernel normaliser (softmax over taps times Hamming window, renormalised) at W2 hr resolution: 25 taps x 4096 pixels. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC", "-XX:+UseTransparentHugePages"})
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
public class NormaliseBench {
    @Param({"1", "2"})
    public int threads;

    Parallel par;
    float[] z, hamming, out;

    @Setup
    public void setup() {
        par = new Parallel(threads);
        z = normal(B * TAPS_LOW * H * W, 1f, 1);
        hamming = hamming2d(K_LOW);
        out = new float[z.length];
    }

    @TearDown
    public void tearDown() { par.close(); }

    @Benchmark
    public float[] lowpass() {
        CpuKernels.normalise(par, z, B, TAPS_LOW, H * W, hamming, out);
        return out;
    }
}
