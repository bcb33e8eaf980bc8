package io.freqfusion.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/** Looks up backends by name among the providers on the class path. */
public final class Backends {
    private Backends() {}

    public static List<String> available() {
        List<String> names = new ArrayList<>();
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader())) names.add(p.name());
        return names;
    }

    /** Creates the named backend, or fails with a message saying what is available and, for tornado, what is missing. */
    public static Backend create(String name, Map<String, String> options) {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader())) {
            if (p.name().equals(name)) return p.create(options);
        }
        String hint = name.equals("tornado")
                ? " The TornadoVM backend needs the tornado-kernels jar and a TornadoVM SDK: set TORNADOVM_HOME and start with --backend tornado through ./freqfusion."
                : "";
        throw new IllegalArgumentException("backend '" + name + "' is not available (available: " + available() + ")." + hint);
    }
}
