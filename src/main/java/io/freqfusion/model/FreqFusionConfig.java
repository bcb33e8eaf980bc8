package io.freqfusion.model;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The constructor options of one FreqFusion module (spec section 1), immutable and validated.
 * Names in {@link #fromKwargs} / {@link #toKwargs} are the reference module's keyword arguments.
 * Combinations that the reference rejects are rejected here, up front, naming the option and the rule.
 */
public record FreqFusionConfig(
        int hrChannels,
        int lrChannels,
        int compressedChannels,
        int lowpassKernel,
        int highpassKernel,
        int encoderKernel,
        int encoderDilation,
        int upGroup,
        double scaleFactor,
        boolean semiConv,
        boolean compFeatUpsample,
        boolean useHighPass,
        boolean useLowPass,
        boolean hrResidual,
        boolean hammingWindow,
        boolean featureResample,
        int featureResampleGroup,
        boolean featureResampleNorm,
        UpsampleMode upsampleMode,
        boolean alignCorners) {

    /** Every keyword the reference constructor takes, in its order. */
    public static final Set<String> KWARGS = Set.of(
            "hr_channels", "lr_channels", "compressed_channels", "lowpass_kernel", "highpass_kernel",
            "encoder_kernel", "encoder_dilation", "up_group", "scale_factor", "semi_conv", "comp_feat_upsample",
            "use_high_pass", "use_low_pass", "hr_residual", "hamming_window", "feature_resample",
            "feature_resample_group", "feature_resample_norm", "upsample_mode", "align_corners");

    public FreqFusionConfig {
        positive("hr_channels", hrChannels);
        positive("lr_channels", lrChannels);
        positive("compressed_channels", compressedChannels);
        oddPositive("lowpass_kernel", lowpassKernel);
        oddPositive("highpass_kernel", highpassKernel);
        oddPositive("encoder_kernel", encoderKernel);
        positive("encoder_dilation", encoderDilation);
        if (upGroup != 1) {
            throw new ConfigException("up_group=" + upGroup + ": only 1 is supported (the reference kernel normaliser fails for up_group > 1)");
        }
        if (scaleFactor != 1.0) {
            throw new ConfigException("scale_factor=" + scaleFactor + ": only 1 is supported (the reference fails its CARAFE channel checks otherwise)");
        }
        if (upsampleMode == null) throw new ConfigException("upsample_mode must be 'nearest' or 'bilinear'");
        if (semiConv && compFeatUpsample && !useHighPass) {
            throw new ConfigException("use_high_pass=false requires comp_feat_upsample=false or semi_conv=false "
                    + "(the reference raises NotImplementedError for semi_conv with comp_feat_upsample and no high-pass)");
        }
        if (featureResample) {
            positive("feature_resample_group", featureResampleGroup);
            if (compressedChannels % featureResampleGroup != 0) {
                throw new ConfigException("feature_resample_group=" + featureResampleGroup + " must divide compressed_channels=" + compressedChannels);
            }
            if (lrChannels % featureResampleGroup != 0) {
                throw new ConfigException("feature_resample_group=" + featureResampleGroup + " must divide lr_channels=" + lrChannels);
            }
            if (featureResampleNorm) {
                if (compressedChannels < 8) {
                    throw new ConfigException("feature_resample_norm=true needs compressed_channels >= 8 (GroupNorm with compressed_channels//8 groups), got " + compressedChannels);
                }
                if (compressedChannels % (compressedChannels / 8) != 0) {
                    throw new ConfigException("feature_resample_norm=true: compressed_channels=" + compressedChannels
                            + " is not divisible by its GroupNorm group count " + (compressedChannels / 8));
                }
            }
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new ConfigException(name + "=" + v + ": must be a positive integer");
    }

    private static void oddPositive(String name, int v) {
        positive(name, v);
        if (v % 2 == 0) throw new ConfigException(name + "=" + v + ": must be odd");
    }

    /** The reference defaults for the given channel counts. */
    public static FreqFusionConfig defaults(int hrChannels, int lrChannels) {
        return fromKwargs(Map.of("hr_channels", hrChannels, "lr_channels", lrChannels));
    }

    /**
     * Builds a config from reference keyword arguments (values as parsed from JSON: numbers, booleans, strings).
     * Missing keys take the reference defaults; {@code hr_channels} and {@code lr_channels} are required.
     * Unknown keys are rejected so that a misspelt option never silently falls back to its default.
     */
    public static FreqFusionConfig fromKwargs(Map<String, ?> kw) {
        for (String k : kw.keySet()) {
            if (!KWARGS.contains(k)) throw new ConfigException("unknown option '" + k + "' (FreqFusion options: " + String.join(", ", new java.util.TreeSet<>(KWARGS)) + ")");
        }
        if (!kw.containsKey("hr_channels") || !kw.containsKey("lr_channels")) {
            throw new ConfigException("hr_channels and lr_channels are required (or inferable from the weights)");
        }
        return new FreqFusionConfig(
                intOpt(kw, "hr_channels", 0), intOpt(kw, "lr_channels", 0), intOpt(kw, "compressed_channels", 64),
                intOpt(kw, "lowpass_kernel", 5), intOpt(kw, "highpass_kernel", 3), intOpt(kw, "encoder_kernel", 3),
                intOpt(kw, "encoder_dilation", 1), intOpt(kw, "up_group", 1), numOpt(kw, "scale_factor", 1.0),
                boolOpt(kw, "semi_conv", true), boolOpt(kw, "comp_feat_upsample", true), boolOpt(kw, "use_high_pass", true),
                boolOpt(kw, "use_low_pass", true), boolOpt(kw, "hr_residual", true), boolOpt(kw, "hamming_window", true),
                boolOpt(kw, "feature_resample", false), intOpt(kw, "feature_resample_group", 4),
                boolOpt(kw, "feature_resample_norm", true),
                UpsampleMode.parse(strOpt(kw, "upsample_mode", "nearest")), boolOpt(kw, "align_corners", false));
    }

    /** All options under the reference names (round-trips through {@link #fromKwargs}). */
    public Map<String, Object> toKwargs() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("hr_channels", hrChannels);
        m.put("lr_channels", lrChannels);
        m.put("compressed_channels", compressedChannels);
        m.put("lowpass_kernel", lowpassKernel);
        m.put("highpass_kernel", highpassKernel);
        m.put("encoder_kernel", encoderKernel);
        m.put("encoder_dilation", encoderDilation);
        m.put("up_group", upGroup);
        m.put("scale_factor", scaleFactor);
        m.put("semi_conv", semiConv);
        m.put("comp_feat_upsample", compFeatUpsample);
        m.put("use_high_pass", useHighPass);
        m.put("use_low_pass", useLowPass);
        m.put("hr_residual", hrResidual);
        m.put("hamming_window", hammingWindow);
        m.put("feature_resample", featureResample);
        m.put("feature_resample_group", featureResampleGroup);
        m.put("feature_resample_norm", featureResampleNorm);
        m.put("upsample_mode", upsampleMode.referenceName());
        m.put("align_corners", alignCorners);
        return m;
    }

    private static int intOpt(Map<String, ?> kw, String key, int def) {
        Object v = kw.get(key);
        if (v == null) return def;
        if (v instanceof Number n) {
            double d = n.doubleValue();
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) throw new ConfigException(key + "=" + v + ": must be an integer");
            return (int) d;
        }
        throw new ConfigException(key + "=" + v + ": must be an integer");
    }

    private static double numOpt(Map<String, ?> kw, String key, double def) {
        Object v = kw.get(key);
        if (v == null) return def;
        if (v instanceof Number n) return n.doubleValue();
        throw new ConfigException(key + "=" + v + ": must be a number");
    }

    private static boolean boolOpt(Map<String, ?> kw, String key, boolean def) {
        Object v = kw.get(key);
        if (v == null) return def;
        if (v instanceof Boolean b) return b;
        throw new ConfigException(key + "=" + v + ": must be true or false");
    }

    private static String strOpt(Map<String, ?> kw, String key, String def) {
        Object v = kw.get(key);
        if (v == null) return def;
        if (v instanceof String s) return s;
        throw new ConfigException(key + "=" + v + ": must be a string");
    }

    // ---- derived quantities used by the forward pass ----

    public int lowpassTaps() { return lowpassKernel * lowpassKernel; }
    public int highpassTaps() { return highpassKernel * highpassKernel; }
    /** Padding of the content encoders: floor((k_e - 1) * d_e / 2). */
    public int encoderPadding() { return (encoderKernel - 1) * encoderDilation / 2; }
    /** Padding of the offset-generator convs (no dilation). */
    public int samplerPadding() { return encoderKernel / 2; }
    /** Input channels of the offset-generator convs: features plus 8 local similarities. */
    public int samplerChannels() { return compressedChannels + 8; }
    public int groupNormGroups() { return compressedChannels / 8; }

    /** Whether the hr size must be exactly twice the lr size (everything but semi_conv=False without resampling). */
    public boolean requiresExactDoubling() { return semiConv || featureResample; }

    /**
     * Checks an input pair's shapes against this config; throws IllegalArgumentException naming the tensor and rule.
     * Shapes are (B, C, H, W).
     */
    public void checkShapes(String hrName, int[] hr, String lrName, int[] lr) {
        rank4(hrName, hr);
        rank4(lrName, lr);
        if (hr[0] != lr[0]) throw new ShapeException(hrName + " and " + lrName + " must have the same batch size, got " + hr[0] + " and " + lr[0]);
        if (hr[0] < 1) throw new ShapeException(hrName + ": batch size must be at least 1");
        if (hr[1] != hrChannels) throw new ShapeException(hrName + ": expected " + hrChannels + " channels (hr_channels), got " + hr[1]);
        if (lr[1] != lrChannels) throw new ShapeException(lrName + ": expected " + lrChannels + " channels (lr_channels), got " + lr[1]);
        if (hr[2] < 1 || hr[3] < 1 || lr[2] < 1 || lr[3] < 1) throw new ShapeException(hrName + "/" + lrName + ": spatial sizes must be positive");
        if (requiresExactDoubling() && (hr[2] != 2 * lr[2] || hr[3] != 2 * lr[3])) {
            throw new ShapeException(hrName + " spatial size " + hr[2] + "x" + hr[3] + " must be exactly twice " + lrName + "'s "
                    + lr[2] + "x" + lr[3] + (semiConv ? " (semi_conv=true)" : " (feature_resample=true)"));
        }
    }

    private static void rank4(String name, int[] s) {
        if (s.length != 4) throw new ShapeException(name + ": expected rank 4 (B, C, H, W), got rank " + s.length);
    }
}
