package io.freqfusion.backend.cpu;

import io.freqfusion.model.FreqFusionConfig;
import io.freqfusion.model.FreqFusionModule;
import io.freqfusion.model.FreqFusionWeights;

/**
 * A module's convolution weights packed for the CPU tiles (see {@link ConvWeights}): once per module, shared by the
 * forwards of every input shape.
 */
final class PackedModule {
    final ConvWeights hrCompressor, lrCompressor, encoderLow, encoderHigh;
    /**
     * E_L and E_H stacked (25 + 9 outputs) for the lr compressed feature, which both read: one padded copy and one
     * input transform instead of two. Null unless both are 3x3, stride-1, pad-1 (Winograd) convolutions.
     */
    final ConvWeights lrEncoders;
    /** offset and direct_scale convs stacked (they read the same input): LR (16G out) and HR (4G out). */
    final ConvWeights lrSampler, hrSampler;

    PackedModule(FreqFusionModule module) {
        FreqFusionConfig cfg = module.config();
        FreqFusionWeights wt = module.weights();
        int Cc = cfg.compressedChannels(), ke = cfg.encoderKernel(), cs = cfg.samplerChannels(), g = cfg.featureResampleGroup();
        hrCompressor = ConvWeights.pack(wt.hrCompressorW, wt.hrCompressorB, Cc, cfg.hrChannels(), 1);
        lrCompressor = ConvWeights.pack(wt.lrCompressorW, wt.lrCompressorB, Cc, cfg.lrChannels(), 1);
        encoderLow = ConvWeights.pack(wt.encoderW, wt.encoderB, cfg.lowpassTaps(), Cc, ke);
        encoderHigh = cfg.useHighPass() ? ConvWeights.pack(wt.encoder2W, wt.encoder2B, cfg.highpassTaps(), Cc, ke) : null;
        lrEncoders = cfg.useHighPass() && ke == 3 && cfg.encoderDilation() == 1 && cfg.encoderPadding() == 1
                ? ConvWeights.pack(concat(wt.encoderW, wt.encoder2W), concat(wt.encoderB, wt.encoder2B), cfg.lowpassTaps() + cfg.highpassTaps(), Cc, ke)
                : null;
        boolean fr = cfg.featureResample();
        lrSampler = fr ? ConvWeights.pack(concat(wt.offsetW, wt.directScaleW), concat(wt.offsetB, wt.directScaleB), 16 * g, cs, ke) : null;
        hrSampler = fr ? ConvWeights.pack(concat(wt.hrOffsetW, wt.hrDirectScaleW), concat(wt.hrOffsetB, wt.hrDirectScaleB), 4 * g, cs, ke) : null;
    }

    private static float[] concat(float[] a, float[] b) {
        float[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
