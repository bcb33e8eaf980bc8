package io.freqfusion.model;

/** One FreqFusion module: its options and its loaded parameters. Immutable; shared by all backends and threads. */
public record FreqFusionModule(FreqFusionConfig config, FreqFusionWeights weights) {

    /** A module with the seeded reference initialisation (spec 7). */
    public static FreqFusionModule referenceInit(FreqFusionConfig config, long seed) {
        return new FreqFusionModule(config, FreqFusionWeights.referenceInit(config, seed));
    }

    public long parameterCount() {
        long n = 0;
        for (var e : weights.stateDict().entrySet()) {
            if (!e.getKey().startsWith("hamming_") && !e.getKey().equals("dysampler.init_pos")) n += e.getValue().size();
        }
        return n;
    }
}
