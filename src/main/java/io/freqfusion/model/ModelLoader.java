package io.freqfusion.model;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Builds {@link FusionModel}s from weight files and options.
 *
 * <p>A model file is a safetensors file with state_dict names (optionally under a prefix) whose
 * {@code __metadata__} may carry the config as JSON under {@code module_kwargs} (and, for pyramids,
 * {@code kind}, {@code stage_kwargs}, {@code concat}) - the golden files' form. Explicit options override the
 * metadata; missing keys take the reference defaults; channel counts absent from both are read off the
 * compressor weights. Pyramid stages live under {@code ff1.}, {@code ff2.}, ... below the prefix.
 */
public final class ModelLoader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern STAGE = Pattern.compile("ff(\\d+)\\..*");

    private ModelLoader() {}

    /** Options of a model: FreqFusion kwargs, plus "pyramid" and "stages" (per-stage kwargs: {"ff1": {...}}). */
    public static Map<String, Object> parseOptions(String json) {
        if (json == null || json.isBlank()) return new LinkedHashMap<>();
        try {
            Map<String, Object> m = JSON.readValue(json, new TypeReference<LinkedHashMap<String, Object>>() {});
            return m == null ? new LinkedHashMap<>() : m;
        } catch (IOException e) {
            throw new ConfigException("config is not a JSON object: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    public static FusionModel load(Path file, String prefix, Map<String, Object> options) throws IOException {
        return load(SafeTensors.read(file), prefix, options);
    }

    public static FusionModel load(SafeTensors.Contents contents, String prefix, Map<String, Object> options) {
        String pre = prefix == null ? "" : prefix;
        Map<String, String> meta = contents.metadata();
        Map<String, Object> opts = new LinkedHashMap<>(parseOptions(meta.get("module_kwargs")));
        Map<String, Object> explicit = options == null ? Map.of() : options;
        Object pyramidOpt = explicit.containsKey("pyramid") ? explicit.get("pyramid") : meta.get("kind");
        opts.putAll(explicit);
        opts.remove("pyramid");
        Object stagesOpt = opts.remove("stages");

        Topology topology;
        if (pyramidOpt != null) {
            topology = Topology.parse(String.valueOf(pyramidOpt));
        } else {
            topology = hasStages(contents.tensors(), pre) ? null : Topology.SINGLE;
            if (topology == null) {
                throw new ConfigException("the weights hold pyramid stages (" + pre + "ff1. ...): say which pyramid, fpn-add or fpn-concat");
            }
        }
        if (topology == Topology.SINGLE) {
            FreqFusionModule m = module(contents.tensors(), pre, opts);
            return FusionModel.single(m);
        }
        Map<String, Object> stageKw = new LinkedHashMap<>(parseOptions(meta.get("stage_kwargs")));
        if (stagesOpt instanceof Map<?, ?> sm) sm.forEach((k, v) -> stageKw.put(String.valueOf(k), v));
        else if (stagesOpt != null) throw new ConfigException("stages: must be a JSON object of per-stage options, e.g. {\"ff1\": {...}}");
        TreeSet<Integer> ids = stageIds(contents.tensors(), pre);
        if (ids.isEmpty()) throw new ConfigException("pyramid " + topology.id + ": no stage weights under '" + pre + "ff1.'");
        if (ids.first() != 1 || ids.last() != ids.size()) throw new ConfigException("pyramid stages must be numbered ff1..ffN without gaps, found " + ids);
        for (String k : stageKw.keySet()) {
            Matcher mm = Pattern.compile("ff(\\d+)").matcher(k);
            if (!mm.matches() || !ids.contains(Integer.parseInt(mm.group(1)))) throw new ConfigException("stages: unknown stage '" + k + "' (have ff1..ff" + ids.size() + ")");
        }
        for (String name : contents.tensors().keySet()) {
            if (name.startsWith(pre) && !STAGE.matcher(name.substring(pre.length())).matches()) {
                throw new ConfigException("unexpected tensor '" + name + "': pyramid weights must all be under " + pre + "ffN.");
            }
        }
        List<FreqFusionModule> modules = new ArrayList<>();
        for (int s = 1; s <= ids.size(); s++) {
            Map<String, Object> kw = new LinkedHashMap<>(opts);
            Object own = stageKw.get("ff" + s);
            if (own instanceof Map<?, ?> om) om.forEach((k, v) -> kw.put(String.valueOf(k), v));
            try {
                modules.add(module(contents.tensors(), pre + "ff" + s + ".", kw));
            } catch (ConfigException e) {
                throw new ConfigException("ff" + s + ": " + e.getMessage());
            }
        }
        FusionModel model = new FusionModel(topology, modules);
        String concat = meta.get("concat");
        if (concat != null && topology == Topology.FPN_CONCAT) {
            String expect = model.concatGroups() > 0 ? "group_interleaved:" + model.concatGroups() : "channel";
            if (!concat.equals(expect)) throw new ConfigException("metadata concat='" + concat + "' disagrees with the stages' options (" + expect + ")");
        }
        return model;
    }

    /** One module from the tensors under {@code prefix}; channels inferred from the compressors when absent. */
    public static FreqFusionModule module(Map<String, Tensor> tensors, String prefix, Map<String, Object> kwargs) {
        Map<String, Object> kw = new LinkedHashMap<>(kwargs);
        Tensor hrc = tensors.get(prefix + "hr_channel_compressor.weight");
        Tensor lrc = tensors.get(prefix + "lr_channel_compressor.weight");
        if (!kw.containsKey("hr_channels") && hrc != null && hrc.rank() == 4) kw.put("hr_channels", hrc.dim(1));
        if (!kw.containsKey("lr_channels") && lrc != null && lrc.rank() == 4) kw.put("lr_channels", lrc.dim(1));
        if (!kw.containsKey("compressed_channels") && hrc != null && hrc.rank() == 4) kw.put("compressed_channels", hrc.dim(0));
        if (!kw.containsKey("hr_channels") || !kw.containsKey("lr_channels")) {
            throw new ConfigException("missing tensor '" + prefix + (hrc == null ? "hr" : "lr")
                    + "_channel_compressor.weight' (and no hr_channels/lr_channels given)");
        }
        FreqFusionConfig config = FreqFusionConfig.fromKwargs(kw);
        return new FreqFusionModule(config, FreqFusionWeights.load(config, tensors, prefix));
    }

    private static boolean hasStages(Map<String, Tensor> tensors, String pre) {
        return !stageIds(tensors, pre).isEmpty() && !tensors.containsKey(pre + "hr_channel_compressor.weight");
    }

    private static TreeSet<Integer> stageIds(Map<String, Tensor> tensors, String pre) {
        TreeSet<Integer> ids = new TreeSet<>();
        for (String n : tensors.keySet()) {
            if (!n.startsWith(pre)) continue;
            Matcher m = STAGE.matcher(n.substring(pre.length()));
            if (m.matches()) ids.add(Integer.parseInt(m.group(1)));
        }
        return ids;
    }

    /**
     * The built-in model of a topology at reference init: a single module of C channels, or a pyramid of
     * {@code levels} levels each with C channels (concat: lr channels grow C, 2C, ...). Seeded, deterministic.
     */
    public static FusionModel builtIn(Topology topology, int channels, int levels, Map<String, Object> kwargs, long seed) {
        if (topology == Topology.SINGLE) {
            Map<String, Object> kw = new LinkedHashMap<>(kwargs);
            kw.putIfAbsent("hr_channels", channels);
            kw.putIfAbsent("lr_channels", channels);
            return FusionModel.single(FreqFusionModule.referenceInit(FreqFusionConfig.fromKwargs(kw), seed));
        }
        List<FreqFusionModule> modules = new ArrayList<>();
        int lr = channels;
        for (int s = 0; s < levels - 1; s++) {
            Map<String, Object> kw = new LinkedHashMap<>(kwargs);
            kw.put("hr_channels", channels);
            kw.put("lr_channels", lr);
            modules.add(FreqFusionModule.referenceInit(FreqFusionConfig.fromKwargs(kw), seed + s));
            if (topology == Topology.FPN_CONCAT) lr += channels;
        }
        return new FusionModel(topology, modules);
    }

    /** The state_dict of a whole model under the file's naming (stages under ffN.), for writing model files. */
    public static Map<String, Tensor> stateDict(FusionModel model, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        String pre = prefix == null ? "" : prefix;
        List<FreqFusionModule> st = model.stages();
        for (int s = 0; s < st.size(); s++) {
            String sp = model.topology() == Topology.SINGLE ? pre : pre + "ff" + (s + 1) + ".";
            st.get(s).weights().stateDict().forEach((k, v) -> out.put(sp + k, v));
        }
        return out;
    }

    /** Metadata that makes a written model file self-describing (golden-file form). */
    public static Map<String, String> metadata(FusionModel model) {
        Map<String, String> meta = new LinkedHashMap<>();
        try {
            meta.put("kind", model.topology().id.replace('-', '_'));
            if (model.topology() == Topology.SINGLE) {
                meta.put("module_kwargs", JSON.writeValueAsString(model.stages().get(0).config().toKwargs()));
            } else {
                Map<String, Object> sk = new LinkedHashMap<>();
                for (int s = 0; s < model.stages().size(); s++) sk.put("ff" + (s + 1), model.stages().get(s).config().toKwargs());
                meta.put("stage_kwargs", JSON.writeValueAsString(sk));
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return meta;
    }
}
