package io.freqfusion.runtime;

import io.freqfusion.backend.Backend;
import io.freqfusion.backend.ForwardShape;
import io.freqfusion.backend.ModuleForward;
import io.freqfusion.backend.StageTimes;
import io.freqfusion.model.FusionModel;
import io.freqfusion.model.Topology;
import io.freqfusion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a {@link FusionModel} on a {@link Backend}: validates input shapes, prepares (and caches) one
 * {@link ModuleForward} per stage and input shape, and chains pyramid stages.
 *
 * <p>Thread safety: forwards for one shape are not reentrant, so runs for the same shape serialise on
 * that shape's plan; different shapes may run concurrently. The cache of plans is bounded by a number of shapes
 * and, optionally, by the bytes of scratch they hold ({@link #maxCachedBytes}); least recently used plans go first.
 */
public final class FusionRunner implements AutoCloseable {
    private final FusionModel model;
    private final Backend backend;
    /** Prepared plans in least-recently-used order; guarded by its own monitor. */
    private final java.util.LinkedHashMap<ShapeKey, Plan> plans = new java.util.LinkedHashMap<>(16, 0.75f, true);
    private final int maxCachedShapes;
    private volatile long maxCachedBytes = Long.MAX_VALUE;
    /** The plan of the last completed run, for the repeat-shape path of {@link #runInto}. */
    private volatile Plan lastRun;

    public FusionRunner(FusionModel model, Backend backend, int maxCachedShapes) {
        this.model = model;
        this.backend = backend;
        this.maxCachedShapes = maxCachedShapes;
    }

    public FusionRunner(FusionModel model, Backend backend) { this(model, backend, 16); }

    public FusionModel model() { return model; }

    /**
     * Bounds the scratch held by cached plans (bytes, as reported by {@link ModuleForward#scratchBytes()}): least
     * recently used plans are closed when a new one would exceed it. The newest plan is always kept.
     */
    public void maxCachedBytes(long bytes) { this.maxCachedBytes = bytes <= 0 ? Long.MAX_VALUE : bytes; }

    /** Scratch bytes held by the cached plans now. */
    public long cachedBytes() {
        synchronized (plans) {
            long b = 0;
            for (Plan p : plans.values()) b += p.bytes;
            return b;
        }
    }

    public int cachedPlans() {
        synchronized (plans) {
            return plans.size();
        }
    }
    public Backend backend() { return backend; }

    /** Validates inputs and returns output shapes by name (throws ShapeException naming the tensor). */
    public Map<String, int[]> outputShapes(Map<String, Tensor> inputs) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        inputs.forEach((k, v) -> shapes.put(k, v.shape()));
        return model.outputShapes(shapes);
    }

    /** Allocates every output tensor for these inputs (validated). */
    public Map<String, Tensor> newOutputs(Map<String, Tensor> inputs) { return newOutputs(inputs, null); }

    /**
     * Allocates the output tensors for these inputs (validated): those in {@code wanted} (null: all) and those every
     * run makes ({@link FusionModel#alwaysMade}, a pyramid's levels). Names the model does not produce are refused.
     */
    public Map<String, Tensor> newOutputs(Map<String, Tensor> inputs, java.util.Collection<String> wanted) {
        Map<String, int[]> shapes = outputShapes(inputs);
        if (wanted != null) {
            for (String n : wanted) {
                if (!shapes.containsKey(n)) throw new IllegalArgumentException("unknown output '" + n + "' (the model produces " + shapes.keySet() + ")");
            }
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        shapes.forEach((k, s) -> {
            if (wanted == null || wanted.contains(k) || model.alwaysMade(k)) out.put(k, Tensor.zeros(s));
        });
        return out;
    }

    /** Runs the model into freshly allocated outputs, all of them. */
    public Map<String, Tensor> run(Map<String, Tensor> inputs, StageTimes times) { return run(inputs, null, times); }

    /**
     * Runs the model into freshly allocated outputs: those in {@code wanted} (null: all) and a pyramid's levels. Work
     * that only unwanted outputs need is skipped where the backend can (a CPU fpn-add chain then writes each level's
     * sum without its hr_feat and lr_feat).
     */
    public Map<String, Tensor> run(Map<String, Tensor> inputs, java.util.Collection<String> wanted, StageTimes times) {
        Map<String, Tensor> out = newOutputs(inputs, wanted);
        runInto(inputs, out, times);
        return out;
    }

    /** Compiles the plan for these input shapes ahead of the first request (warm-up). */
    public void prepare(Map<String, int[]> inputShapes) {
        Map<String, int[]> outs = model.outputShapes(inputShapes);
        plan(inputShapes, outs);
    }

    /**
     * Runs the model writing into {@code outputs} (as made by {@link #newOutputs}); reusing them across calls
     * makes a run allocation-free in the steady state. {@code outputs} must hold the outputs every run makes
     * ({@link FusionModel#alwaysMade}) and may leave out any other: an output left out is not made.
     */
    public void runInto(Map<String, Tensor> inputs, Map<String, Tensor> outputs, StageTimes times) {
        // The same shapes as the last run (the steady state of a benchmark or a busy deployment): its plan, checked
        // tensor by tensor, without building the shape maps and key of the general path (nothing allocated).
        Plan plan = repeatOfLastRun(inputs, outputs);
        Map<String, int[]> shapes = null, outShapes = null;
        while (true) {
            if (plan == null) {
                if (shapes == null) {
                    shapes = new LinkedHashMap<>();
                    for (var e : inputs.entrySet()) shapes.put(e.getKey(), e.getValue().shape());
                    outShapes = model.outputShapes(shapes);
                    for (var e : outShapes.entrySet()) {
                        Tensor t = outputs.get(e.getKey());
                        if (t == null ? model.alwaysMade(e.getKey()) : !t.hasShape(e.getValue())) {
                            throw new IllegalArgumentException("output buffer '" + e.getKey() + "' missing or of the wrong shape");
                        }
                    }
                }
                plan = plan(shapes, outShapes);
            }
            synchronized (plan) {
                if (!plan.closed) {
                    execute(plan, inputs, outputs, times);
                    lastRun = plan;
                    return;
                }
            }
            plan = null;   // evicted between lookup and run: look it up (prepare it) again
        }
    }

    /** The last run's plan if these tensors have its shapes and it is still cached; otherwise null. */
    private Plan repeatOfLastRun(Map<String, Tensor> inputs, Map<String, Tensor> outputs) {
        Plan last = lastRun;
        if (last == null || !last.matches(model, inputs, outputs)) return null;
        synchronized (plans) {
            return plans.get(last.key) == last ? last : null;   // the lookup also marks it recently used
        }
    }

    private Plan plan(Map<String, int[]> inputShapes, Map<String, int[]> outShapes) {
        ShapeKey key = ShapeKey.of(model.inputNames(), inputShapes);
        synchronized (plans) {
            Plan p = plans.get(key);
            if (p != null) return p;
            p = new Plan(model, backend, key, inputShapes, outShapes);
            plans.put(key, p);
            evictBeyondBounds(p);
            return p;
        }
    }

    /** Closes least recently used plans (never {@code keep}) while the cache is over its shape or byte bound. */
    private void evictBeyondBounds(Plan keep) {
        long total = 0;
        for (Plan p : plans.values()) total += p.bytes;
        var it = plans.values().iterator();
        while ((plans.size() > maxCachedShapes || total > maxCachedBytes) && it.hasNext()) {
            Plan old = it.next();
            if (old == keep) continue;
            it.remove();
            total -= old.bytes;
            synchronized (old) { // waits for a run in progress on it
                old.close();
            }
        }
    }

    private void execute(Plan plan, Map<String, Tensor> in, Map<String, Tensor> out, StageTimes times) {
        if (model.topology() == Topology.SINGLE) {
            plan.forwards[0].run(in.get("hr_feat").data(), in.get("lr_feat").data(),
                    data(out.get("mask")), data(out.get("hr_feat")), data(out.get("lr_feat")), times);
            return;
        }
        // y_N = x_N
        float[] yN = out.get(plan.topOut).data();
        System.arraycopy(in.get(plan.topIn).data(), 0, yN, 0, yN.length);
        for (int s = 0; s < model.stages().size(); s++) {
            String[] st = plan.stageNames[s];
            float[] hrOut = data(out.get(st[0])), lrOut = data(out.get(st[1]));
            float[] xs = in.get(st[3]).data(), coarser = out.get(st[4]).data(), mask = data(out.get(st[2]));
            float[] y = out.get(st[5]).data();
            boolean add = model.topology() == Topology.FPN_ADD;
            // a concat needs both halves, and so does an fpn-add sum on a backend that cannot form it without them:
            // halves nobody asked for go to the plan's scratch
            if (!add || !plan.forwards[s].sumsWithoutOutputs()) {
                if (hrOut == null) hrOut = plan.stageScratch(s, 0);
                if (lrOut == null) lrOut = plan.stageScratch(s, 1);
            }
            if (add) {
                plan.forwards[s].runAndAdd(xs, coarser, mask, hrOut, lrOut, y, times);
            } else {
                plan.forwards[s].run(xs, coarser, mask, hrOut, lrOut, times);
                concat(hrOut, plan.stageShapes[s][0], lrOut, plan.stageShapes[s][1], model.concatGroups(), y);
            }
        }
    }

    private static float[] data(Tensor t) { return t == null ? null : t.data(); }

    /**
     * Channel concat [a, b] per batch item (a, b NCHW of shapes sa, sb); with groups > 0 group-interleaved [a_0, b_0,
     * a_1, b_1, ...] (spec 8b).
     */
    static void concat(float[] da, int[] sa, float[] db, int[] sb, int groups, float[] out) {
        int B = sa[0], ca = sa[1], cb = sb[1], plane = sa[2] * sa[3];
        int g = groups > 0 ? groups : 1;
        int blockA = ca / g * plane, blockB = cb / g * plane;
        int o = 0;
        for (int bi = 0; bi < B; bi++) {
            for (int gi = 0; gi < g; gi++) {
                System.arraycopy(da, bi * ca * plane + gi * blockA, out, o, blockA);
                o += blockA;
                System.arraycopy(db, bi * cb * plane + gi * blockB, out, o, blockB);
                o += blockB;
            }
        }
    }

    /** Closes every cached plan; the runner stays usable (plans are prepared again on demand). */
    @Override
    public void close() {
        synchronized (plans) {
            for (Plan p : plans.values()) {
                synchronized (p) {
                    p.close();
                }
            }
            plans.clear();
        }
    }

    /** Prepared forwards of every stage for one set of input shapes. */
    private static final class Plan implements AutoCloseable {
        final ShapeKey key;
        final ModuleForward[] forwards;
        /** Scratch of the forwards, and of the stage outputs below once made; read under the plans' monitor. */
        volatile long bytes;
        /** Input and output names with their shapes, for {@link #matches}. */
        final String[] inNames, outNames;
        final int[][] inShapes, outShapes;
        /**
         * A chain's tensor names, made once: per stage its hr_feat, lr_feat and mask outputs, its hr input x_(l+1), lr
         * input y_(l+2) and level output y_(l+1); and the top level's x_N, y_N.
         */
        final String[][] stageNames;
        final String topIn, topOut;
        /** Per stage, the shapes of its hr_feat and lr_feat outputs. */
        final int[][][] stageShapes;
        /**
         * Per stage, arrays for its hr_feat and lr_feat when a run does not want them but the stage still has to write
         * them (a concat, or a backend whose fpn-add sum needs them); made on first use. Guarded by the plan's monitor.
         */
        private final float[][][] stageScratch;
        boolean closed;   // guarded by the plan's monitor

        Plan(FusionModel model, Backend backend, ShapeKey key, Map<String, int[]> in, Map<String, int[]> out) {
            this.key = key;
            inNames = in.keySet().toArray(String[]::new);
            inShapes = in.values().toArray(int[][]::new);
            outNames = out.keySet().toArray(String[]::new);
            outShapes = out.values().toArray(int[][]::new);
            stageNames = new String[model.stages().size()][];
            stageShapes = new int[stageNames.length][][];
            stageScratch = new float[stageNames.length][2][];
            for (int s = 0; s < stageNames.length; s++) {
                String st = "ff" + (s + 1) + ".";
                int lvl = model.topology() == Topology.SINGLE ? 0 : model.hrLevelOfStage(s);
                stageNames[s] = new String[] {st + "hr_feat", st + "lr_feat", st + "mask", "x" + (lvl + 1), "y" + (lvl + 2), "y" + (lvl + 1)};
                stageShapes[s] = new int[][] {out.get(stageNames[s][0]), out.get(stageNames[s][1])};
            }
            topIn = "x" + model.levels();
            topOut = "y" + model.levels();
            List<io.freqfusion.model.FreqFusionModule> st = model.stages();
            forwards = new ModuleForward[st.size()];
            for (int s = 0; s < st.size(); s++) {
                int[] hr, lr;
                if (model.topology() == Topology.SINGLE) {
                    hr = in.get("hr_feat");
                    lr = in.get("lr_feat");
                } else {
                    int lvl = model.hrLevelOfStage(s);
                    hr = in.get("x" + (lvl + 1));
                    lr = out.get("y" + (lvl + 2));
                }
                forwards[s] = backend.prepare(st.get(s), ForwardShape.of(hr, lr));
            }
            long b = 0;
            for (ModuleForward f : forwards) b += f.scratchBytes();
            bytes = b;
        }

        /** Stage s's hr_feat (i = 0) or lr_feat (i = 1) array of the plan's own, made on first use. */
        float[] stageScratch(int s, int i) {
            float[] a = stageScratch[s][i];
            if (a == null) {
                a = stageScratch[s][i] = new float[Math.toIntExact(Tensor.numel(stageShapes[s][i]))];
                bytes += 4L * a.length;
            }
            return a;
        }

        /**
         * Whether these are exactly this plan's inputs, and the outputs have its outputs' shapes, those that every run
         * makes all present.
         */
        boolean matches(FusionModel model, Map<String, Tensor> inputs, Map<String, Tensor> outputs) {
            if (inputs.size() != inNames.length) return false;
            for (int i = 0; i < inNames.length; i++) {
                Tensor t = inputs.get(inNames[i]);
                if (t == null || !t.hasShape(inShapes[i])) return false;
            }
            for (int i = 0; i < outNames.length; i++) {
                Tensor t = outputs.get(outNames[i]);
                if (t == null ? model.alwaysMade(outNames[i]) : !t.hasShape(outShapes[i])) return false;
            }
            return true;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            for (ModuleForward f : forwards) if (f != null) f.close();
        }
    }

    /** Identity of a set of input shapes. */
    private record ShapeKey(String signature) {
        static ShapeKey of(List<String> names, Map<String, int[]> shapes) {
            StringBuilder sb = new StringBuilder();
            for (String n : names) sb.append(n).append(java.util.Arrays.toString(shapes.get(n))).append(';');
            return new ShapeKey(sb.toString());
        }
    }
}
