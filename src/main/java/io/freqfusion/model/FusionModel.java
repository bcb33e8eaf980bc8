package io.freqfusion.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a served model computes: one FreqFusion module, or a pyramid of them (spec 8). Knows its input and
 * output tensors and checks input shapes; the arithmetic lives in the backends and {@code runtime.FusionRunner}.
 *
 * <p>Pyramids take levels x1 (finest) .. xN and have N-1 stages: stage s (ff{s}) fuses hr = x_{N-s} with
 * lr = y_{N-s+1}, y_N = x_N.
 */
public final class FusionModel {
    private final Topology topology;
    private final List<FreqFusionModule> stages;
    /** Group count of the interleaved concat (fpn-concat with feature_resample), else 0 = plain concat. */
    private final int concatGroups;

    public FusionModel(Topology topology, List<FreqFusionModule> stages) {
        this.topology = topology;
        this.stages = List.copyOf(stages);
        if (stages.isEmpty()) throw new ConfigException("a model needs at least one FreqFusion module");
        if (topology == Topology.SINGLE && stages.size() != 1) throw new ConfigException("pyramid 'single' has exactly one module, got " + stages.size());
        FreqFusionConfig first = stages.get(0).config();
        this.concatGroups = topology == Topology.FPN_CONCAT && first.featureResample() ? first.featureResampleGroup() : 0;
        for (int s = 1; s < stages.size(); s++) {
            FreqFusionConfig prev = stages.get(s - 1).config(), cur = stages.get(s).config();
            int expectLr = topology == Topology.FPN_ADD ? prev.hrChannels() : prev.hrChannels() + prev.lrChannels();
            if (cur.lrChannels() != expectLr) {
                throw new ConfigException("ff" + (s + 1) + ".lr_channels=" + cur.lrChannels() + " but ff" + s + " produces "
                        + expectLr + " channels (" + topology.id + ")");
            }
        }
        for (int s = 0; s < stages.size(); s++) {
            FreqFusionConfig c = stages.get(s).config();
            if (topology == Topology.FPN_ADD && c.hrChannels() != c.lrChannels()) {
                throw new ConfigException("ff" + (s + 1) + ": fpn-add needs hr_channels == lr_channels (y = hr_out + lr_out), got "
                        + c.hrChannels() + " and " + c.lrChannels());
            }
            if (topology == Topology.FPN_CONCAT && concatGroups > 0) {
                if (!c.featureResample() || c.featureResampleGroup() != concatGroups) {
                    throw new ConfigException("ff" + (s + 1) + ": fpn-concat stages must agree on feature_resample and feature_resample_group");
                }
                if (c.hrChannels() % concatGroups != 0) {
                    throw new ConfigException("ff" + (s + 1) + ": hr_channels=" + c.hrChannels() + " must be divisible by feature_resample_group="
                            + concatGroups + " for the group-interleaved concat");
                }
            } else if (topology == Topology.FPN_CONCAT && c.featureResample()) {
                throw new ConfigException("ff" + (s + 1) + ": fpn-concat stages must agree on feature_resample");
            }
        }
    }

    public static FusionModel single(FreqFusionModule module) { return new FusionModel(Topology.SINGLE, List.of(module)); }

    public Topology topology() { return topology; }
    public List<FreqFusionModule> stages() { return stages; }
    public int concatGroups() { return concatGroups; }
    public int levels() { return stages.size() + 1; }

    public List<String> inputNames() {
        if (topology == Topology.SINGLE) return List.of("hr_feat", "lr_feat");
        List<String> n = new ArrayList<>();
        for (int i = 1; i <= levels(); i++) n.add("x" + i);
        return n;
    }

    /** Outputs in the order a full response lists them. Pyramids: y1..yN, then each stage's mask, hr_feat, lr_feat. */
    public List<String> outputNames() {
        if (topology == Topology.SINGLE) return List.of("mask", "hr_feat", "lr_feat");
        List<String> n = new ArrayList<>();
        for (int i = 1; i <= levels(); i++) n.add("y" + i);
        for (int s = 1; s <= stages.size(); s++) {
            n.add("ff" + s + ".mask");
            n.add("ff" + s + ".hr_feat");
            n.add("ff" + s + ".lr_feat");
        }
        return n;
    }

    /**
     * Whether a run always makes this output: a pyramid's levels y1..yN (each but the finest is the next stage's
     * input). Every other output (a single module's three, a stage's mask, hr_feat and lr_feat) is made only when
     * asked for.
     */
    public boolean alwaysMade(String output) {
        return topology != Topology.SINGLE && output.startsWith("y");
    }

    /** Input channel count of each input (index-aligned with {@link #inputNames()}). */
    public int[] inputChannels() {
        if (topology == Topology.SINGLE) return new int[] {stages.get(0).config().hrChannels(), stages.get(0).config().lrChannels()};
        int n = levels();
        int[] c = new int[n];
        for (int s = 0; s < stages.size(); s++) c[n - 2 - s] = stages.get(s).config().hrChannels();
        c[n - 1] = stages.get(0).config().lrChannels();
        return c;
    }

    /** For stage s (0-based): the level index (0-based, x1 = 0) of its hr input. */
    public int hrLevelOfStage(int s) { return levels() - 2 - s; }

    /**
     * Checks input shapes (by name) and returns the output shapes in {@link #outputNames()} order.
     * Throws {@link ShapeException} naming the tensor and the rule.
     */
    public Map<String, int[]> outputShapes(Map<String, int[]> inputs) {
        for (String name : inputs.keySet()) {
            if (!inputNames().contains(name)) throw new ShapeException("unexpected input '" + name + "' (this model takes " + inputNames() + ")");
        }
        for (String name : inputNames()) {
            if (!inputs.containsKey(name)) throw new ShapeException("missing input '" + name + "' (this model takes " + inputNames() + ")");
        }
        Map<String, int[]> out = new LinkedHashMap<>();
        if (topology == Topology.SINGLE) {
            int[] hr = inputs.get("hr_feat"), lr = inputs.get("lr_feat");
            FreqFusionConfig c = stages.get(0).config();
            c.checkShapes("hr_feat", hr, "lr_feat", lr);
            out.put("mask", new int[] {hr[0], c.lowpassTaps(), hr[2], hr[3]});
            out.put("hr_feat", hr.clone());
            out.put("lr_feat", new int[] {hr[0], c.lrChannels(), hr[2], hr[3]});
            return out;
        }
        int n = levels();
        int[][] y = new int[n][];
        y[n - 1] = inputs.get("x" + n).clone();
        Map<String, int[]> stageOut = new LinkedHashMap<>();
        for (int s = 0; s < stages.size(); s++) {
            int lvl = hrLevelOfStage(s);
            FreqFusionConfig c = stages.get(s).config();
            int[] hr = inputs.get("x" + (lvl + 1)), lr = y[lvl + 1];
            String lrName = lvl + 1 == n - 1 ? "x" + n : "y" + (lvl + 2) + " (from ff" + s + ")";
            try {
                c.checkShapes("x" + (lvl + 1), hr, lrName, lr);
            } catch (ShapeException e) {
                throw new ShapeException("ff" + (s + 1) + ": " + e.getMessage());
            }
            int outC = topology == Topology.FPN_ADD ? c.hrChannels() : c.hrChannels() + c.lrChannels();
            y[lvl] = new int[] {hr[0], outC, hr[2], hr[3]};
            stageOut.put("ff" + (s + 1) + ".mask", new int[] {hr[0], c.lowpassTaps(), hr[2], hr[3]});
            stageOut.put("ff" + (s + 1) + ".hr_feat", hr.clone());
            stageOut.put("ff" + (s + 1) + ".lr_feat", new int[] {hr[0], c.lrChannels(), hr[2], hr[3]});
        }
        for (int i = 0; i < n; i++) out.put("y" + (i + 1), y[i]);
        out.putAll(stageOut);
        return out;
    }
}
