package io.freqfusion.backend;

import java.util.Map;

/**
 * Discovered with {@link java.util.ServiceLoader}: the CPU backend is built in, the TornadoVM backend
 * comes from the tornado-kernels jar when it is on the class path.
 */
public interface BackendProvider {
    /** The name that selects this backend ("cpu", "tornado"). */
    String name();

    /** Creates a backend. Options are backend-specific strings (threads, device "B:D", ...). */
    Backend create(Map<String, String> options);
}
