package io.freqfusion.backend;

/** The stages of a forward pass that backends time separately (reported as metrics and by the benchmark). */
public enum Stage {
    /** The two 1x1 channel compressors. */
    COMPRESS("compressors"),
    /** The content encoders (kernel generators). */
    ENCODE("encoders"),
    /** Softmax + Hamming kernel normalisation. */
    NORMALISE("kernel_normalisation"),
    /** CARAFE reassembly, resizes and residual combinations. */
    REASSEMBLE("reassembly"),
    /** The offset generator and grid sampling (feature_resample). */
    RESAMPLE("resampler");

    public final String metricName;

    Stage(String metricName) { this.metricName = metricName; }
}
