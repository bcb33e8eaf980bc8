package io.freqfusion.backend;

/**
 * One FreqFusion module compiled for one {@link ForwardShape} on one backend: owns its scratch
 * (CPU arrays, or device buffers and an execution plan), so repeated calls allocate nothing.
 * Not thread-safe: a caller runs one forward at a time on it.
 */
public interface ModuleForward extends AutoCloseable {

    ForwardShape shape();

    /**
     * Runs the forward pass. Inputs are NCHW float32: {@code hr} (B, C_h, H, W), {@code lr} (B, C_l, h, w).
     * Outputs are written in full: {@code mask} (B, k_l^2, H, W), {@code hrOut} (B, C_h, H, W),
     * {@code lrOut} (B, C_l, H, W). An output passed as null is not wanted: nothing is written for it, and a backend
     * may skip the work only it needs. {@code times} may be null.
     */
    void run(float[] hr, float[] lr, float[] mask, float[] hrOut, float[] lrOut, StageTimes times);

    /**
     * {@link #run}, then {@code sum = hr_out + lr_out} (the level output of an fpn-add chain); {@code hrOut} and
     * {@code lrOut} may be null when only the sum is wanted. The default adds on the calling thread and needs both
     * arrays; a backend overrides it to add where its data and threads are, and to form the sum without them.
     */
    default void runAndAdd(float[] hr, float[] lr, float[] mask, float[] hrOut, float[] lrOut, float[] sum, StageTimes times) {
        if (hrOut == null || lrOut == null) {
            throw new UnsupportedOperationException(getClass().getSimpleName() + " forms an fpn-add sum only from hr_out and lr_out arrays");
        }
        run(hr, lr, mask, hrOut, lrOut, times);
        for (int i = 0; i < sum.length; i++) sum[i] = hrOut[i] + lrOut[i];
    }

    /**
     * Whether {@link #runAndAdd} forms the sum with {@code hrOut} and {@code lrOut} null. For a backend that cannot, a
     * runner passes arrays of its own where the caller does not want a level's hr_out or lr_out.
     */
    default boolean sumsWithoutOutputs() { return false; }

    /** Bytes of scratch this forward holds (host arrays or device buffers), for bounding caches of prepared forwards. */
    default long scratchBytes() { return 0; }

    @Override
    default void close() {}
}
