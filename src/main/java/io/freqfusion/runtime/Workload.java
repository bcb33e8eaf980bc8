package io.freqfusion.runtime;

import io.freqfusion.model.FusionModel;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.model.Topology;
import io.freqfusion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The benchmark workloads of spec section 9 (B = 1, C_hr = C_lr = C): W1, W2, W3 single modules and the
 * FPN4 add chain, each under the module defaults or the integrations' ("paper") configuration.
 */
public enum Workload {
    W1(Topology.SINGLE, 64, 32),
    W2(Topology.SINGLE, 256, 64),
    W3(Topology.SINGLE, 256, 128),
    FPN4(Topology.FPN_ADD, 256, 128);

    public final Topology topology;
    public final int channels;
    /** hr size of the single module, or of the finest level (levels halve from there). */
    public final int size;

    Workload(Topology topology, int channels, int size) {
        this.topology = topology;
        this.channels = channels;
        this.size = size;
    }

    public static Workload parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown workload '" + s + "' (W1, W2, W3, FPN4)");
        }
    }

    /** "default" = module defaults; "paper" = compressed (C_hr+C_lr)/8, feature_resample on, group 4, Hamming off. */
    public static Map<String, Object> configOptions(String name, int channels) {
        return switch (name) {
            case "default" -> Map.of();
            case "paper" -> Map.of("compressed_channels", (2 * channels) / 8, "feature_resample", true,
                    "feature_resample_group", 4, "hamming_window", false);
            default -> throw new IllegalArgumentException("unknown config '" + name + "' (default, paper)");
        };
    }

    public FusionModel model(String config, long seed) {
        return ModelLoader.builtIn(topology, channels, 4, configOptions(config, channels), seed);
    }

    /**
     * The outputs a benchmark of this workload asks for: all of a single module's (null), a pyramid's levels y1..yN
     * (what an FPN neck reads, spec 8a; the per-stage tensors are then not made).
     */
    public static List<String> benchOutputs(FusionModel model) {
        return model.topology() == Topology.SINGLE ? null : model.outputNames().stream().filter(model::alwaysMade).toList();
    }

    public Map<String, int[]> inputShapes() {
        Map<String, int[]> m = new LinkedHashMap<>();
        if (topology == Topology.SINGLE) {
            m.put("hr_feat", new int[] {1, channels, size, size});
            m.put("lr_feat", new int[] {1, channels, size / 2, size / 2});
        } else {
            for (int i = 0; i < 4; i++) m.put("x" + (i + 1), new int[] {1, channels, size >> i, size >> i});
        }
        return m;
    }

    /** Fresh random inputs: standard normal, never exactly zero. */
    public Map<String, Tensor> randomInputs(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, Tensor> in = new LinkedHashMap<>();
        inputShapes().forEach((k, s) -> {
            Tensor t = Tensor.zeros(s);
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) {
                double u1 = 1.0 - rng.nextDouble(), u2 = rng.nextDouble();
                float v = (float) (Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
                d[i] = v == 0f ? 1e-3f : v;
            }
            in.put(k, t);
        });
        return in;
    }
}
