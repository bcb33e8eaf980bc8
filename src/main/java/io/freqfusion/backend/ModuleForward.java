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
     * {@code lrOut} (B, C_l, H, W). {@code times} may be null.
     */
    void run(float[] hr, float[] lr, float[] mask, float[] hrOut, float[] lrOut, StageTimes times);

    /**
     * {@link #run}, then {@code sum = hrOut + lrOut} (the level output of an fpn-add chain). The default adds on the
     * calling thread; a backend may do it where its data and threads are.
     */
    default void runAndAdd(float[] hr, float[] lr, float[] mask, float[] hrOut, float[] lrOut, float[] sum, StageTimes times) {
        run(hr, lr, mask, hrOut, lrOut, times);
        for (int i = 0; i < sum.length; i++) sum[i] = hrOut[i] + lrOut[i];
    }

    /** Bytes of scratch this forward holds (host arrays or device buffers), for bounding caches of prepared forwards. */
    default long scratchBytes() { return 0; }

    @Override
    default void close() {}
}
