package io.freqfusion.bench;

import io.freqfusion.backend.cpu.CpuBackend;
import io.freqfusion.model.FusionModel;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.runtime.Workload;
import io.freqfusion.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The whole forward of the spec section 9 workloads (W1, W2, W3 single modules; FPN4 add chain) under the module
 * defaults and the paper configuration, through FusionRunner.runInto with reused outputs, as {@code ./freqfusion bench}
 * measures it. The GC profiler's gc.alloc.rate.norm should be ~0 B/op (no per-call allocation in the steady state).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC", "-XX:+UseTransparentHugePages"})
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
public class ForwardBench {
    @Param({"W1", "W2", "W3", "FPN4"})
    public String workload;

    @Param({"default", "paper"})
    public String config;

    @Param({"1", "2"})
    public int threads;

    /** "bench": what ./freqfusion bench asks for (all of a single module's outputs, FPN4's levels y1..y4); "all". */
    @Param({"bench"})
    public String outputs;

    CpuBackend backend;
    FusionRunner runner;
    Map<String, Tensor> inputs, outs;

    @Setup
    public void setup() {
        Workload wl = Workload.parse(workload);
        FusionModel model = wl.model(config, 42);
        backend = new CpuBackend(threads);
        runner = new FusionRunner(model, backend);
        inputs = wl.randomInputs(7);
        outs = runner.newOutputs(inputs, outputs.equals("all") ? null : Workload.benchOutputs(model));
        runner.runInto(inputs, outs, null);   // prepare the plan (scratch) outside the measurement
    }

    @TearDown
    public void tearDown() {
        runner.close();
        backend.close();
    }

    @Benchmark
    public Map<String, Tensor> forward() {
        runner.runInto(inputs, outs, null);
        return outs;
    }
}
