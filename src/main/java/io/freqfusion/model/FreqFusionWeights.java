package io.freqfusion.model;

import io.freqfusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The parameters and buffers of one FreqFusion module, keyed by the reference {@code state_dict} names
 * (spec section 7) and held as flat arrays for the kernels. Immutable after loading: backends read them,
 * never write them.
 */
public final class FreqFusionWeights {

    /** One entry of the reference state_dict: its name and shape, and how the reference initialises it. */
    public record Param(String name, int[] shape, Init init) {
        public long numel() { return Tensor.numel(shape); }
    }

    enum Init { HAMMING_LOW, HAMMING_HIGH, XAVIER, ZERO, ONE, NORMAL_1E3, INIT_POS }

    // Fields are public final arrays on purpose: the kernels index them directly (see llama3.java's Weights).
    public final float[] hammingLowpass, hammingHighpass;
    public final float[] hrCompressorW, hrCompressorB, lrCompressorW, lrCompressorB;
    public final float[] encoderW, encoderB;
    /** Null when use_high_pass is off. */
    public final float[] encoder2W, encoder2B;
    /** The offset generator's tensors; null unless feature_resample is on (norm ones also null when the norm is off). */
    public final float[] initPos, offsetW, offsetB, directScaleW, directScaleB, hrOffsetW, hrOffsetB,
            hrDirectScaleW, hrDirectScaleB, normHrW, normHrB, normLrW, normLrB;

    private final Map<String, Tensor> stateDict;

    private FreqFusionWeights(Map<String, Tensor> sd) {
        this.stateDict = java.util.Collections.unmodifiableMap(sd);
        hammingLowpass = get(sd, "hamming_lowpass");
        hammingHighpass = get(sd, "hamming_highpass");
        hrCompressorW = get(sd, "hr_channel_compressor.weight");
        hrCompressorB = get(sd, "hr_channel_compressor.bias");
        lrCompressorW = get(sd, "lr_channel_compressor.weight");
        lrCompressorB = get(sd, "lr_channel_compressor.bias");
        encoderW = get(sd, "content_encoder.weight");
        encoderB = get(sd, "content_encoder.bias");
        encoder2W = get(sd, "content_encoder2.weight");
        encoder2B = get(sd, "content_encoder2.bias");
        initPos = get(sd, "dysampler.init_pos");
        offsetW = get(sd, "dysampler.offset.weight");
        offsetB = get(sd, "dysampler.offset.bias");
        directScaleW = get(sd, "dysampler.direct_scale.weight");
        directScaleB = get(sd, "dysampler.direct_scale.bias");
        hrOffsetW = get(sd, "dysampler.hr_offset.weight");
        hrOffsetB = get(sd, "dysampler.hr_offset.bias");
        hrDirectScaleW = get(sd, "dysampler.hr_direct_scale.weight");
        hrDirectScaleB = get(sd, "dysampler.hr_direct_scale.bias");
        normHrW = get(sd, "dysampler.norm_hr.weight");
        normHrB = get(sd, "dysampler.norm_hr.bias");
        normLrW = get(sd, "dysampler.norm_lr.weight");
        normLrB = get(sd, "dysampler.norm_lr.bias");
    }

    private static float[] get(Map<String, Tensor> sd, String name) {
        Tensor t = sd.get(name);
        return t == null ? null : t.data();
    }

    /** The state_dict in the reference order (what a model file stores). */
    public Map<String, Tensor> stateDict() { return stateDict; }

    /** The parameters and buffers this config has, in the reference state_dict order. */
    public static List<Param> parameters(FreqFusionConfig c) {
        List<Param> p = new ArrayList<>();
        int kl = c.lowpassKernel(), kh = c.highpassKernel(), ke = c.encoderKernel(), cc = c.compressedChannels();
        p.add(new Param("hamming_lowpass", c.hammingWindow() ? new int[] {1, 1, kl, kl} : new int[] {1}, Init.HAMMING_LOW));
        p.add(new Param("hamming_highpass", c.hammingWindow() ? new int[] {1, 1, kh, kh} : new int[] {1}, Init.HAMMING_HIGH));
        p.add(new Param("hr_channel_compressor.weight", new int[] {cc, c.hrChannels(), 1, 1}, Init.XAVIER));
        p.add(new Param("hr_channel_compressor.bias", new int[] {cc}, Init.ZERO));
        p.add(new Param("lr_channel_compressor.weight", new int[] {cc, c.lrChannels(), 1, 1}, Init.XAVIER));
        p.add(new Param("lr_channel_compressor.bias", new int[] {cc}, Init.ZERO));
        p.add(new Param("content_encoder.weight", new int[] {kl * kl, cc, ke, ke}, Init.NORMAL_1E3));
        p.add(new Param("content_encoder.bias", new int[] {kl * kl}, Init.ZERO));
        if (c.featureResample()) {
            int g = c.featureResampleGroup(), cs = c.samplerChannels();
            p.add(new Param("dysampler.init_pos", new int[] {1, 8 * g, 1, 1}, Init.INIT_POS));
            p.add(new Param("dysampler.offset.weight", new int[] {8 * g, cs, ke, ke}, Init.XAVIER));
            p.add(new Param("dysampler.offset.bias", new int[] {8 * g}, Init.ZERO));
            p.add(new Param("dysampler.direct_scale.weight", new int[] {8 * g, cs, ke, ke}, Init.XAVIER));
            p.add(new Param("dysampler.direct_scale.bias", new int[] {8 * g}, Init.ZERO));
            p.add(new Param("dysampler.hr_offset.weight", new int[] {2 * g, cs, ke, ke}, Init.XAVIER));
            p.add(new Param("dysampler.hr_offset.bias", new int[] {2 * g}, Init.ZERO));
            p.add(new Param("dysampler.hr_direct_scale.weight", new int[] {2 * g, cs, ke, ke}, Init.XAVIER));
            p.add(new Param("dysampler.hr_direct_scale.bias", new int[] {2 * g}, Init.ZERO));
            if (c.featureResampleNorm()) {
                p.add(new Param("dysampler.norm_hr.weight", new int[] {cc}, Init.ONE));
                p.add(new Param("dysampler.norm_hr.bias", new int[] {cc}, Init.ZERO));
                p.add(new Param("dysampler.norm_lr.weight", new int[] {cc}, Init.ONE));
                p.add(new Param("dysampler.norm_lr.bias", new int[] {cc}, Init.ZERO));
            }
        }
        if (c.useHighPass()) {
            p.add(new Param("content_encoder2.weight", new int[] {kh * kh, cc, ke, ke}, Init.NORMAL_1E3));
            p.add(new Param("content_encoder2.bias", new int[] {kh * kh}, Init.ZERO));
        }
        return p;
    }

    /**
     * Takes this config's tensors out of {@code tensors}, those named {@code prefix + state_dict name}.
     * Missing tensors, tensors under the prefix that this config does not have, and shape mismatches are
     * errors naming the tensor. Tensors outside the prefix are ignored (a full checkpoint may hold more).
     */
    public static FreqFusionWeights load(FreqFusionConfig config, Map<String, Tensor> tensors, String prefix) {
        String pre = prefix == null ? "" : prefix;
        List<Param> expected = parameters(config);
        Map<String, Tensor> sd = new LinkedHashMap<>();
        for (Param p : expected) {
            Tensor t = tensors.get(pre + p.name());
            if (t == null) {
                throw new ConfigException("missing tensor '" + pre + p.name() + "' " + java.util.Arrays.toString(p.shape())
                        + " required by this configuration");
            }
            if (!t.hasShape(p.shape())) {
                throw new ConfigException("tensor '" + pre + p.name() + "' has shape " + t.shapeString() + ", expected "
                        + java.util.Arrays.toString(p.shape()) + " for this configuration");
            }
            for (float v : t.data()) {
                if (!Float.isFinite(v)) throw new ConfigException("tensor '" + pre + p.name() + "' contains a non-finite value (" + v + ")");
            }
            sd.put(p.name(), t);
        }
        for (String name : tensors.keySet()) {
            if (name.startsWith(pre) && !sd.containsKey(name.substring(pre.length()))) {
                String local = name.substring(pre.length());
                throw new ConfigException("unexpected tensor '" + name + "': not a parameter of FreqFusion with this configuration"
                        + hint(local, config));
            }
        }
        return new FreqFusionWeights(sd);
    }

    private static String hint(String local, FreqFusionConfig c) {
        if (local.startsWith("dysampler.norm") && !c.featureResampleNorm()) return " (it belongs to feature_resample_norm=true)";
        if (local.startsWith("dysampler.") && !c.featureResample()) return " (it belongs to feature_resample=true)";
        if (local.startsWith("content_encoder2.") && !c.useHighPass()) return " (it belongs to use_high_pass=true)";
        return "";
    }

    /** The reference initialisation (spec 7), seeded and deterministic: a model that runs with no weight file. */
    public static FreqFusionWeights referenceInit(FreqFusionConfig c, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, Tensor> sd = new LinkedHashMap<>();
        for (Param p : parameters(c)) {
            float[] d = new float[(int) p.numel()];
            switch (p.init()) {
                case HAMMING_LOW -> fillHamming(d, c.hammingWindow(), c.lowpassKernel());
                case HAMMING_HIGH -> fillHamming(d, c.hammingWindow(), c.highpassKernel());
                case XAVIER -> {
                    int[] s = p.shape();
                    int rf = s[2] * s[3];
                    double bound = Math.sqrt(6.0 / ((double) s[1] * rf + (double) s[0] * rf));
                    for (int i = 0; i < d.length; i++) d[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
                }
                case NORMAL_1E3 -> {
                    for (int i = 0; i < d.length; i++) d[i] = (float) (gaussian(rng) * 1e-3);
                }
                case ONE -> java.util.Arrays.fill(d, 1f);
                case ZERO -> { }
                case INIT_POS -> fillInitPos(d, c.featureResampleGroup());
            }
            sd.put(p.name(), new Tensor(p.shape(), d));
        }
        return new FreqFusionWeights(sd);
    }

    private static double gaussian(SplittableRandom rng) {
        // Box-Muller; SplittableRandom has no nextGaussian of its own before JDK 17's RandomGenerator default.
        double u1 = 1.0 - rng.nextDouble(), u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /**
     * Outer product of numpy.hamming(k) with itself, rounded to float32 as the reference buffer is (d: k^2 taps, row
     * major); with on false the window is off: d = {1}.
     */
    public static void fillHamming(float[] d, boolean on, int k) {
        if (!on) {
            d[0] = 1f;
            return;
        }
        double[] a = hamming(k);
        for (int y = 0; y < k; y++) for (int x = 0; x < k; x++) d[y * k + x] = (float) (a[y] * a[x]);
    }

    public static double[] hamming(int m) {
        double[] a = new double[m];
        if (m == 1) {
            a[0] = 1;
            return a;
        }
        for (int n = 0; n < m; n++) a[n] = 0.54 - 0.46 * Math.cos(2 * Math.PI * n / (m - 1));
        return a;
    }

    /** Channel q = a*4G + g*4 + i*2 + j: -0.25 when the relevant phase (j for x, i for y) is 0, else +0.25. */
    static void fillInitPos(float[] d, int groups) {
        for (int q = 0; q < d.length; q++) {
            int a = q / (4 * groups), i = (q % 4) / 2, j = q % 2;
            int phase = a == 0 ? j : i;
            d[q] = phase == 0 ? -0.25f : 0.25f;
        }
    }
}
