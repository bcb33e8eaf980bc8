package io.freqfusion.backend;

/** Accumulated wall time per {@link Stage}, in nanoseconds. Not thread-safe: one per running forward. */
public final class StageTimes {
    private final long[] nanos = new long[Stage.values().length];

    public void add(Stage stage, long ns) { nanos[stage.ordinal()] += ns; }

    public long nanos(Stage stage) { return nanos[stage.ordinal()]; }

    public void clear() { java.util.Arrays.fill(nanos, 0); }

    public void addAll(StageTimes other) {
        for (int i = 0; i < nanos.length; i++) nanos[i] += other.nanos[i];
    }
}
