package io.freqfusion.backend;

import io.freqfusion.model.FreqFusionModule;

/**
 * Where FreqFusion runs: the pure-Java CPU backend, or TornadoVM on an OpenCL/PTX device.
 * A backend compiles a module for an input shape once ({@link #prepare}) and the result is run many times;
 * weights and scratch stay with the prepared forward (on the device, for accelerators).
 */
public interface Backend extends AutoCloseable {

    /** Short name used in configuration and metrics: "cpu", "tornado". */
    String name();

    /** Human-readable device description (for metadata and the backend info metric). */
    String device();

    /**
     * Prepares {@code module} for inputs of {@code shape}. May take long (JIT compilation, transfers of the weights).
     * The shape must already have been validated against the module's config.
     */
    ModuleForward prepare(FreqFusionModule module, ForwardShape shape);

    @Override
    default void close() {}
}
