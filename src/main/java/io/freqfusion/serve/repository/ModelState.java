package io.freqfusion.serve.repository;

/** Lifecycle of a served model. */
public enum ModelState {
    /** Weights being read, backend preparing, warm-up running. */
    LOADING,
    /** Serving requests. */
    READY,
    /** Failed to load or warm up; the reason is in the model metadata and the log. */
    UNAVAILABLE
}
