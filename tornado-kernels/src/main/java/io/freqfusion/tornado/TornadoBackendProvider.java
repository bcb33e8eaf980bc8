package io.freqfusion.tornado;

import io.freqfusion.backend.Backend;
import io.freqfusion.backend.BackendProvider;

import java.util.Map;

/**
 * Registers the TornadoVM backend under the name "tornado" (META-INF/services). Options:
 * <ul>
 *   <li>{@code device} = "B:D", TornadoVM backend index : device index (default "0:0"; see {@code tornado --devices});</li>
 *   <li>{@code profile} = "on" (default: TornadoVM profiler on every run, per-task kernel times) or "off";</li>
 *   <li>{@code compiler-flags} = OpenCL build options (default "-cl-mad-enable -w": no -cl-fast-relaxed-math, so that
 *       exp/sqrt keep full float precision on every device).</li>
 * </ul>
 * The "threads" option of the CPU backend is accepted and ignored.
 */
public final class TornadoBackendProvider implements BackendProvider {
    @Override
    public String name() { return "tornado"; }

    @Override
    public Backend create(Map<String, String> options) {
        return new TornadoBackend(options);
    }
}
