package io.freqfusion.serve.repository;

import io.freqfusion.model.FusionModel;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.serve.scheduling.Batcher;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A model of the repository: its state and, once READY, its runner and batcher. */
public final class ServedModel {
    public static final String VERSION = "1";
    public static final String PLATFORM = "freqfusion_java";

    /** Name, datatype and shape (-1 = dynamic) of an input or output. */
    public record TensorInfo(String name, String datatype, long[] shape) {}

    private final String name;
    private final String source;
    private volatile ModelState state = ModelState.LOADING;
    private volatile String reason;
    private volatile FusionModel model;
    private volatile FusionRunner runner;
    private volatile Batcher batcher;
    private volatile String backendName;
    private volatile int maxBatchSize;
    private volatile int maxSpatial;
    private volatile double loadSeconds = Double.NaN;
    private volatile List<TensorInfo> inputs = List.of(), outputs = List.of();

    ServedModel(String name, String source) {
        this.name = name;
        this.source = source;
    }

    /** A READY model outside any repository (tools and tests: validation without a batcher). */
    public static ServedModel of(String name, FusionModel model, int maxBatchSize) {
        ServedModel m = new ServedModel(name, "test");
        m.ready(model, null, null, "none", maxBatchSize, 0);
        return m;
    }

    void maxSpatial(int v) { this.maxSpatial = v; }

    /** The backend failed: not ready until a probe succeeds (the runner and batcher stay, to be re-prepared). */
    void failed(String reason) {
        this.reason = reason;
        this.state = ModelState.UNAVAILABLE;
    }

    /** A probe on a re-prepared runner succeeded. */
    void recovered(FusionRunner runner) {
        this.runner = runner;
        this.reason = null;
        this.state = ModelState.READY;
    }

    /** Now served by the fallback backend. */
    void fellBack(FusionRunner runner, String backendName) {
        this.runner = runner;
        this.backendName = backendName;
    }

    public String name() { return name; }
    /** Where it came from: "built-in" or the folder. */
    public String source() { return source; }
    public ModelState state() { return state; }
    /** Why the model is UNAVAILABLE (null otherwise). */
    public String reason() { return reason; }
    public FusionModel model() { return model; }
    public FusionRunner runner() { return runner; }
    public Batcher batcher() { return batcher; }
    public String backendName() { return backendName; }
    public int maxBatchSize() { return maxBatchSize; }
    /** The model's own max_spatial (config.json), 0 = the global limit only. */
    public int maxSpatial() { return maxSpatial; }
    public double loadSeconds() { return loadSeconds; }
    public List<TensorInfo> inputs() { return inputs; }
    public List<TensorInfo> outputs() { return outputs; }
    public boolean isReady() { return state == ModelState.READY; }

    void ready(FusionModel model, FusionRunner runner, Batcher batcher, String backendName, int maxBatchSize, double loadSeconds) {
        this.model = model;
        this.runner = runner;
        this.batcher = batcher;
        this.backendName = backendName;
        this.maxBatchSize = maxBatchSize;
        this.loadSeconds = loadSeconds;
        describe(model);
        this.state = ModelState.READY;
    }

    void unavailable(String reason, double loadSeconds) {
        this.reason = reason;
        this.loadSeconds = loadSeconds;
        this.state = ModelState.UNAVAILABLE;
    }

    /** Input and output metadata: FP32, channels fixed, batch and spatial dims -1. */
    private void describe(FusionModel m) {
        Map<String, int[]> probe = new LinkedHashMap<>();
        List<String> in = m.inputNames();
        int[] channels = m.inputChannels();
        for (int i = 0; i < in.size(); i++) {
            int hw = 1 << (in.size() - 1 - i); // finest first: x1 largest; single: hr 2x2, lr 1x1
            probe.put(in.get(i), new int[] {1, channels[i], hw, hw});
        }
        Map<String, int[]> out = m.outputShapes(probe);
        List<TensorInfo> ins = new ArrayList<>(), outs = new ArrayList<>();
        probe.forEach((k, s) -> ins.add(new TensorInfo(k, "FP32", new long[] {-1, s[1], -1, -1})));
        out.forEach((k, s) -> outs.add(new TensorInfo(k, "FP32", new long[] {-1, s[1], -1, -1})));
        this.inputs = List.copyOf(ins);
        this.outputs = List.copyOf(outs);
    }
}
