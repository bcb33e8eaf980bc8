package io.freqfusion.runtime;

import io.freqfusion.backend.cpu.CpuBackend;
import io.freqfusion.model.FreqFusionConfig;
import io.freqfusion.model.FreqFusionModule;
import io.freqfusion.model.FusionModel;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.model.Topology;
import io.freqfusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** The plan cache: bounded by shapes and by scratch bytes, least recently used first, results unchanged. */
class FusionRunnerTest {

    private static Map<String, Tensor> inputs(int c, int h, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, Tensor> m = new LinkedHashMap<>();
        Tensor hr = Tensor.zeros(1, c, 2 * h, 2 * h), lr = Tensor.zeros(1, c, h, h);
        for (float[] d : new float[][] {hr.data(), lr.data()}) for (int i = 0; i < d.length; i++) d[i] = (float) r.nextGaussian();
        m.put("hr_feat", hr);
        m.put("lr_feat", lr);
        return m;
    }

    @Test
    void cacheIsBoundedByBytesAndEvictsLeastRecentlyUsed() {
        FusionModel model = FusionModel.single(FreqFusionModule.referenceInit(FreqFusionConfig.defaults(8, 8), 3));
        try (CpuBackend cpu = new CpuBackend(2); FusionRunner runner = new FusionRunner(model, cpu)) {
            Map<String, Tensor> a = inputs(8, 4, 1), b = inputs(8, 6, 2), c = inputs(8, 8, 3);
            Map<String, Tensor> wantA = runner.run(a, null);
            long bytesA = runner.cachedBytes();
            runner.run(b, null);
            long bytesB = runner.cachedBytes() - bytesA;
            Map<String, Tensor> wantC = runner.run(c, null);
            assertEquals(3, runner.cachedPlans());
            long all = runner.cachedBytes(), bytesC = all - bytesA - bytesB;
            assertTrue(bytesA > 0 && bytesB > 0 && bytesC > bytesA, "CPU forwards report their scratch, growing with the shape");

            runner.close();
            long bound = Math.max(bytesA + bytesB, bytesC);   // room for a + b or for c, not for all three
            runner.maxCachedBytes(bound);
            runner.run(a, null);
            runner.run(b, null);
            assertEquals(2, runner.cachedPlans());
            Map<String, Tensor> gotC = runner.run(c, null);   // evicts a, then b (b + c > bound as c > a)
            assertEquals(1, runner.cachedPlans(), "the least recently used plans are evicted");
            assertArrayEquals(wantC.get("lr_feat").data(), gotC.get("lr_feat").data());
            runner.maxCachedBytes(bytesC / 2);
            Map<String, Tensor> gotA = runner.run(a, null);   // prepared again, same result; c evicted
            assertArrayEquals(wantA.get("mask").data(), gotA.get("mask").data());
            Map<String, Tensor> gotC2 = runner.run(c, null);
            assertEquals(1, runner.cachedPlans(), "the newest plan is kept even alone over the bound");
            assertArrayEquals(wantC.get("lr_feat").data(), gotC2.get("lr_feat").data());
            assertTrue(runner.cachedBytes() <= bytesC, "only c's plan is left: " + runner.cachedBytes());
        }
    }

    @Test
    void cacheIsBoundedByShapeCount() {
        FusionModel model = FusionModel.single(FreqFusionModule.referenceInit(FreqFusionConfig.defaults(4, 4), 3));
        try (CpuBackend cpu = new CpuBackend(1); FusionRunner runner = new FusionRunner(model, cpu, 2)) {
            for (int h = 1; h <= 5; h++) runner.run(inputs(4, h, h), null);
            assertEquals(2, runner.cachedPlans());
        }
    }

    /** The CPU backend makes an fpn-add level sum inside the hr reassembly: it must equal hr_feat + lr_feat exactly. */
    @Test
    void fpnAddLevelSumIsTheStageOutputsSum() {
        Map<String, Map<String, Object>> configs = new LinkedHashMap<>();
        configs.put("default", Map.of());
        configs.put("paper", Workload.configOptions("paper", 32));   // feature_resample: lr_feat comes from the sampler
        configs.put("high pass off", Map.of("use_high_pass", false, "comp_feat_upsample", false));
        configs.forEach((name, kw) -> {
            FusionModel model = ModelLoader.builtIn(Topology.FPN_ADD, 32, 4, kw, 5);
            SplittableRandom r = new SplittableRandom(7);
            Map<String, Tensor> in = new LinkedHashMap<>();
            for (int i = 0; i < 4; i++) {
                Tensor t = Tensor.zeros(1, 32, 16 >> i, 24 >> i);
                for (int j = 0; j < t.data().length; j++) t.data()[j] = (float) r.nextGaussian();
                in.put("x" + (i + 1), t);
            }
            try (CpuBackend cpu = new CpuBackend(2); FusionRunner runner = new FusionRunner(model, cpu)) {
                Map<String, Tensor> out = runner.run(in, null);
                for (int st = 0; st < model.stages().size(); st++) {
                    float[] y = out.get("y" + (model.hrLevelOfStage(st) + 1)).data();
                    float[] hr = out.get("ff" + (st + 1) + ".hr_feat").data(), lr = out.get("ff" + (st + 1) + ".lr_feat").data();
                    for (int j = 0; j < y.length; j++) {
                        if (y[j] != hr[j] + lr[j]) fail(name + ", stage " + (st + 1) + ", element " + j + ": " + y[j] + " != " + hr[j] + " + " + lr[j]);
                    }
                }
            }
        });
    }

    /**
     * A chain asked for its levels only: the CPU backend sums each level without its stage outputs; a backend that
     * needs them to form the sum (the interface's default) gets arrays of the plan's own. Same levels either way; a
     * level left out of the outputs, or an unknown output asked for, is refused.
     */
    @Test
    void levelsAloneAreTheFullRunsLevels() {
        Map<String, Map<String, Object>> configs = new LinkedHashMap<>();
        configs.put("default", Map.of());
        configs.put("paper", Workload.configOptions("paper", 32));
        configs.put("high pass off", Map.of("use_high_pass", false, "comp_feat_upsample", false));
        configs.put("semi conv off", Map.of("semi_conv", false));
        // 4 channels per sampler group: the gather sampler from lrPre instead of the blocked one in place
        configs.put("resample group 8", Map.of("feature_resample", true, "feature_resample_group", 8));
        for (Topology topology : new Topology[] {Topology.FPN_ADD, Topology.FPN_CONCAT}) {
            configs.forEach((name, kw) -> {
                FusionModel model = ModelLoader.builtIn(topology, 32, 3, kw, 5);
                Map<String, Tensor> in = new LinkedHashMap<>();
                SplittableRandom r = new SplittableRandom(11);
                for (int i = 0; i < 3; i++) {
                    Tensor t = Tensor.zeros(1, 32, 16 >> i, 24 >> i);
                    for (int j = 0; j < t.data().length; j++) t.data()[j] = (float) r.nextGaussian();
                    in.put("x" + (i + 1), t);
                }
                java.util.List<String> levels = java.util.List.of("y1", "y2", "y3");
                try (CpuBackend cpu = new CpuBackend(2); FusionRunner runner = new FusionRunner(model, cpu);
                     FusionRunner viaDefault = new FusionRunner(model, new SumFromOutputs(cpu))) {
                    Map<String, Tensor> full = runner.run(in, null);
                    for (FusionRunner rn : new FusionRunner[] {runner, viaDefault}) {
                        Map<String, Tensor> got = rn.run(in, levels, null);
                        assertEquals(levels, java.util.List.copyOf(got.keySet()), topology + " " + name);
                        for (String y : levels) assertArrayEquals(full.get(y).data(), got.get(y).data(), topology + " " + name + " " + y);
                        Map<String, Tensor> missing = rn.newOutputs(in, levels);
                        missing.remove("y2");
                        assertThrows(IllegalArgumentException.class, () -> rn.runInto(in, missing, null), "a level is always made");
                    }
                    assertThrows(IllegalArgumentException.class, () -> runner.run(in, java.util.List.of("y9"), null));
                }
            });
        }
    }

    /** The CPU backend's forwards behind the interface's default fpn-add sum (which needs hr_out and lr_out arrays). */
    private record SumFromOutputs(CpuBackend cpu) implements io.freqfusion.backend.Backend {
        @Override public String name() { return "sum-from-outputs"; }

        @Override public String device() { return cpu.device(); }

        @Override
        public io.freqfusion.backend.ModuleForward prepare(FreqFusionModule module, io.freqfusion.backend.ForwardShape shape) {
            io.freqfusion.backend.ModuleForward f = cpu.prepare(module, shape);
            return new io.freqfusion.backend.ModuleForward() {
                @Override public io.freqfusion.backend.ForwardShape shape() { return shape; }

                @Override
                public void run(float[] hr, float[] lr, float[] mask, float[] hrOut, float[] lrOut, io.freqfusion.backend.StageTimes times) {
                    f.run(hr, lr, mask, hrOut, lrOut, times);
                }
            };
        }
    }

    /** A backend whose forwards only count their runs: the runner's own work, measured alone. */
    private static final class CountingBackend implements io.freqfusion.backend.Backend {
        int prepared, runs;

        @Override public String name() { return "counting"; }

        @Override public String device() { return "none"; }

        @Override
        public io.freqfusion.backend.ModuleForward prepare(FreqFusionModule module, io.freqfusion.backend.ForwardShape shape) {
            prepared++;
            return new io.freqfusion.backend.ModuleForward() {
                @Override public io.freqfusion.backend.ForwardShape shape() { return shape; }

                @Override
                public void run(float[] hr, float[] lr, float[] mask, float[] hrOut, float[] lrOut, io.freqfusion.backend.StageTimes times) {
                    runs++;
                }
            };
        }
    }

    /**
     * Repeating the last run's shapes takes the runner's short path: the same plan, no shape maps or keys built (a
     * run allocates nothing on the calling thread), while other shapes, evicted plans and wrong outputs still take the
     * general path.
     */
    @Test
    void repeatedShapesReuseTheLastPlanWithoutAllocating() {
        FusionModel model = FusionModel.single(FreqFusionModule.referenceInit(FreqFusionConfig.defaults(4, 4), 3));
        CountingBackend backend = new CountingBackend();
        try (FusionRunner runner = new FusionRunner(model, backend, 1)) {
            Map<String, Tensor> in = inputs(4, 3, 1), out = runner.newOutputs(in);
            runner.runInto(in, out, null);
            var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            long probe0 = mx.getCurrentThreadAllocatedBytes(), probe = mx.getCurrentThreadAllocatedBytes() - probe0;
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 10_000; i++) runner.runInto(in, out, null);
            long allocated = mx.getCurrentThreadAllocatedBytes() - before - probe;
            assertEquals(10_001, backend.runs);
            assertEquals(1, backend.prepared, "one plan for one shape");
            assertTrue(allocated < 10_000, "a repeated run allocates nothing: " + allocated + " bytes over 10 000 runs");

            // another shape evicts the plan (bound 1): the first shape must be prepared again, not run on a closed plan
            Map<String, Tensor> other = inputs(4, 2, 2);
            runner.runInto(other, runner.newOutputs(other), null);
            runner.runInto(in, out, null);
            assertEquals(3, backend.prepared);
            // outputs of the wrong shape are refused on the short path too
            Map<String, Tensor> wrong = runner.newOutputs(other);
            assertThrows(IllegalArgumentException.class, () -> runner.runInto(in, wrong, null));
            // an extra input is not the last run's inputs: the general path validates it
            Map<String, Tensor> extra = new LinkedHashMap<>(in);
            extra.put("bogus", Tensor.zeros(1));
            assertThrows(RuntimeException.class, () -> runner.runInto(extra, out, null));
        }
    }
}
