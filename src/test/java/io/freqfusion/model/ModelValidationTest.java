package io.freqfusion.model;

import io.freqfusion.Golden;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Rejected configurations, bad weight sets and bad input shapes: each error names the option/tensor and the rule. */
class ModelValidationTest {

    private static String configError(Map<String, Object> kw) {
        Map<String, Object> m = new LinkedHashMap<>(Map.of("hr_channels", 16, "lr_channels", 16));
        m.putAll(kw);
        return assertThrows(ConfigException.class, () -> FreqFusionConfig.fromKwargs(m)).getMessage();
    }

    @Test
    void combinationsTheReferenceRejectsAreRejectedUpFront() {
        assertTrue(configError(Map.of("up_group", 2)).startsWith("up_group=2"));
        assertTrue(configError(Map.of("scale_factor", 2)).startsWith("scale_factor=2"));
        assertTrue(configError(Map.of("use_high_pass", false)).contains("use_high_pass=false requires comp_feat_upsample=false"));
        assertTrue(configError(Map.of("lowpass_kernel", 4)).startsWith("lowpass_kernel=4: must be odd"));
        assertTrue(configError(Map.of("encoder_kernel", 2)).startsWith("encoder_kernel=2"));
        assertTrue(configError(Map.of("feature_resample", true, "feature_resample_group", 3)).contains("must divide compressed_channels"));
        assertTrue(configError(Map.of("feature_resample", true, "compressed_channels", 4)).contains("compressed_channels >= 8"));
        assertTrue(configError(Map.of("upsample_mode", "bicubic")).startsWith("upsample_mode"));
        assertTrue(configError(Map.of("lowpass", 5)).startsWith("unknown option 'lowpass'"));
        assertTrue(configError(Map.of("semi_conv", "yes")).startsWith("semi_conv=yes: must be true or false"));
        assertTrue(configError(Map.of("compressed_channels", 0)).startsWith("compressed_channels=0"));
        // Allowed: high-pass off without comp_feat_upsample; norm with a group size that divides (C_c = 20 -> 2 groups of 10).
        assertFalse(FreqFusionConfig.fromKwargs(Map.of("hr_channels", 8, "lr_channels", 8, "use_high_pass", false, "comp_feat_upsample", false)).useHighPass());
        assertEquals(2, FreqFusionConfig.fromKwargs(Map.of("hr_channels", 8, "lr_channels", 8, "feature_resample", true, "compressed_channels", 20)).groupNormGroups());
    }

    @Test
    void kwargsRoundTrip() {
        FreqFusionConfig c = FreqFusionConfig.fromKwargs(Map.of("hr_channels", 32, "lr_channels", 64, "feature_resample", true,
                "upsample_mode", "bilinear", "align_corners", true, "semi_conv", false));
        assertEquals(c, FreqFusionConfig.fromKwargs(c.toKwargs()));
        assertEquals(FreqFusionConfig.KWARGS, c.toKwargs().keySet());
    }

    @Test
    void inputShapesAreChecked() {
        FusionModel m = FusionModel.single(FreqFusionModule.referenceInit(FreqFusionConfig.defaults(8, 8), 1));
        String e = assertThrows(ShapeException.class, () -> m.outputShapes(Map.of("hr_feat", new int[] {1, 8, 15, 15}, "lr_feat", new int[] {1, 8, 8, 8}))).getMessage();
        assertTrue(e.contains("exactly twice") && e.contains("semi_conv"), e);
        e = assertThrows(ShapeException.class, () -> m.outputShapes(Map.of("hr_feat", new int[] {1, 7, 16, 16}, "lr_feat", new int[] {1, 8, 8, 8}))).getMessage();
        assertTrue(e.startsWith("hr_feat: expected 8 channels"), e);
        e = assertThrows(ShapeException.class, () -> m.outputShapes(Map.of("hr_feat", new int[] {1, 8, 16}, "lr_feat", new int[] {1, 8, 8, 8}))).getMessage();
        assertTrue(e.contains("rank 4"), e);
        e = assertThrows(ShapeException.class, () -> m.outputShapes(Map.of("hr_feat", new int[] {1, 8, 16, 16}))).getMessage();
        assertTrue(e.contains("missing input 'lr_feat'"), e);
        e = assertThrows(ShapeException.class, () -> m.outputShapes(Map.of("hr_feat", new int[] {2, 8, 16, 16}, "lr_feat", new int[] {1, 8, 8, 8}))).getMessage();
        assertTrue(e.contains("same batch size"), e);
        // semi_conv=False accepts H != 2h
        FusionModel free = FusionModel.single(FreqFusionModule.referenceInit(FreqFusionConfig.fromKwargs(Map.of("hr_channels", 8, "lr_channels", 8, "semi_conv", false)), 1));
        assertArrayEquals(new int[] {1, 25, 15, 15}, free.outputShapes(Map.of("hr_feat", new int[] {1, 8, 15, 15}, "lr_feat", new int[] {1, 8, 8, 8})).get("mask"));
    }

    @Test
    void badWeightSetsNameTheTensor() throws Exception {
        SafeTensors.Contents c = Golden.read("small_c8");
        Map<String, Tensor> t = new LinkedHashMap<>(c.tensors());
        t.remove("param.content_encoder.bias");
        assertTrue(assertThrows(ConfigException.class, () -> ModelLoader.load(new SafeTensors.Contents(t, c.metadata()), "param.", Map.of()))
                .getMessage().startsWith("missing tensor 'param.content_encoder.bias'"));
        Map<String, Tensor> t2 = new LinkedHashMap<>(c.tensors());
        t2.put("param.content_encoder.bias", Tensor.zeros(24));
        assertTrue(assertThrows(ConfigException.class, () -> ModelLoader.load(new SafeTensors.Contents(t2, c.metadata()), "param.", Map.of()))
                .getMessage().contains("'param.content_encoder.bias' has shape [24], expected [25]"));
        Map<String, Tensor> t3 = new LinkedHashMap<>(c.tensors());
        t3.put("param.dysampler.offset.weight", Tensor.zeros(1));
        assertTrue(assertThrows(ConfigException.class, () -> ModelLoader.load(new SafeTensors.Contents(t3, c.metadata()), "param.", Map.of()))
                .getMessage().contains("unexpected tensor 'param.dysampler.offset.weight'"));
        // Without the prefix the inputs and outputs are unknown tensors of the model.
        assertThrows(ConfigException.class, () -> ModelLoader.load(c, "", Map.of()));
        // Explicit options that contradict the weights.
        assertTrue(assertThrows(ConfigException.class, () -> ModelLoader.load(c, "param.", Map.of("lowpass_kernel", 3)))
                .getMessage().contains("'param.hamming_lowpass' has shape [1, 1, 5, 5], expected [1, 1, 3, 3]"));
        Map<String, Tensor> t4 = new LinkedHashMap<>(c.tensors());
        t4.put("param.content_encoder.bias", new Tensor(new int[] {25}, new float[25]));
        t4.get("param.content_encoder.bias").data()[3] = Float.NaN;
        assertTrue(assertThrows(ConfigException.class, () -> ModelLoader.load(new SafeTensors.Contents(t4, c.metadata()), "param.", Map.of()))
                .getMessage().contains("non-finite"));
    }

    @Test
    void referenceInitIsSeededAndHasTheSpecParameterCount() {
        FreqFusionModule a = FreqFusionModule.referenceInit(FreqFusionConfig.defaults(64, 64), 7);
        FreqFusionModule b = FreqFusionModule.referenceInit(FreqFusionConfig.defaults(64, 64), 7);
        assertArrayEquals(a.weights().encoderW, b.weights().encoderW);
        assertEquals(27_938, a.parameterCount());
        assertEquals(52_514, FreqFusionModule.referenceInit(FreqFusionConfig.defaults(256, 256), 0).parameterCount());
        // Hamming buffers and init_pos as the reference constructs them.
        assertEquals(1f, a.weights().hammingLowpass[12], 1e-7f);
        FreqFusionModule r = FreqFusionModule.referenceInit(FreqFusionConfig.fromKwargs(Map.of("hr_channels", 16, "lr_channels", 16, "feature_resample", true)), 1);
        assertArrayEquals(Golden.readUnchecked("opt_feature_resample").tensors().get("param.dysampler.init_pos").data(), r.weights().initPos);
        assertArrayEquals(Golden.readUnchecked("opt_feature_resample").tensors().get("param.hamming_lowpass").data(), r.weights().hammingLowpass);
    }

    @Test
    void flopCountMatchesTheSpecWorkedNumbers() {
        assertEquals(34.00e6, FlopCount.macs(FreqFusionConfig.defaults(64, 64), 1, 32, 32, 16, 16), 0.01e6);
        assertEquals(225.65e6, FlopCount.macs(FreqFusionConfig.defaults(256, 256), 1, 64, 64, 32, 32), 0.01e6);
        assertEquals(902.59e6, FlopCount.macs(FreqFusionConfig.defaults(256, 256), 1, 128, 128, 64, 64), 0.01e6);
        var fpn = io.freqfusion.runtime.Workload.FPN4;
        assertEquals(1184.66e6, FlopCount.macs(fpn.model("default", 0), fpn.inputShapes()), 0.01e6);
    }
}
