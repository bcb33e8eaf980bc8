package io.freqfusion.backend.cpu;

import io.freqfusion.backend.Backend;
import io.freqfusion.backend.BackendProvider;

import java.util.Map;

public final class CpuBackendProvider implements BackendProvider {
    @Override
    public String name() { return "cpu"; }

    @Override
    public Backend create(Map<String, String> options) {
        String threads = options.get("threads");
        if (threads == null || threads.isBlank() || threads.equals("0")) return new CpuBackend();
        try {
            return new CpuBackend(Integer.parseInt(threads.strip()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cpu backend: threads must be an integer, got '" + threads + "'");
        }
    }
}
