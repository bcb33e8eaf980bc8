package io.freqfusion.tornado;

import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TornadoProfilerResult;

import java.lang.reflect.Field;

/**
 * TornadoVM's profiler in SILENT mode appends one JSON record per execution to a StringBuilder of the task graph
 * ({@code TornadoTaskGraph.bufferLogProfiler}) and never clears it: in a long-running service that is a leak. After
 * reading the log we clear that buffer by reflection, which needs
 * {@code --add-opens tornado.api/uk.ac.manchester.tornado.api=ALL-UNNAMED} and
 * {@code --add-opens tornado.runtime/uk.ac.manchester.tornado.runtime.tasks=ALL-UNNAMED} (tornado-jvm-flags.sh adds them).
 * Without them, per-task times are read only for the first {@link #UNCLEARABLE_LIMIT} executions, then the log is
 * no longer read (totals still are) and profiling is switched off by the caller's check of {@link #clearable()}.
 */
final class ProfilerLogs {
    static final int UNCLEARABLE_LIMIT = 64;
    private static volatile Boolean clearable;
    private static int unclearedReads;

    private ProfilerLogs() {}

    /** The log of the last execution (everything since the previous call when clearing works), or null. */
    static String takeLog(ImmutableTaskGraph graph, TornadoProfilerResult pr) {
        StringBuilder buffer = buffer(graph);
        if (buffer != null) {
            String s = buffer.toString();
            buffer.setLength(0);
            return s;
        }
        if (unclearedReads >= UNCLEARABLE_LIMIT) return null;
        unclearedReads++;
        String s = pr.getProfileLog();
        int last = s.lastIndexOf("{\n    \"");
        return last >= 0 ? s.substring(last) : s;
    }

    static boolean clearable() { return Boolean.TRUE.equals(clearable); }

    /** True once the log cannot be cleared and the bounded number of reads is used up: the caller stops profiling. */
    static boolean exhausted() { return Boolean.FALSE.equals(clearable) && unclearedReads >= UNCLEARABLE_LIMIT; }

    private static StringBuilder buffer(ImmutableTaskGraph graph) {
        if (Boolean.FALSE.equals(clearable)) return null;
        try {
            Object tg = field(graph.getClass(), "taskGraph").get(graph);
            Object impl = field(tg.getClass(), "taskGraphImpl").get(tg);
            Object sb = field(impl.getClass(), "bufferLogProfiler").get(impl);
            clearable = Boolean.TRUE;
            return (StringBuilder) sb;
        } catch (ReflectiveOperationException | RuntimeException e) {
            if (clearable == null) {
                System.err.println("freqfusion tornado: cannot clear TornadoVM's profiler log (" + e
                        + "); per-task kernel times limited to the first " + UNCLEARABLE_LIMIT + " runs. Add the --add-opens of tornado-jvm-flags.sh.");
            }
            clearable = Boolean.FALSE;
            return null;
        }
    }

    private static Field field(Class<?> c, String name) throws NoSuchFieldException {
        for (Class<?> k = c; k != null; k = k.getSuperclass()) {
            try {
                Field f = k.getDeclaredField(name);
                f.setAccessible(true);
                return f;
            } catch (NoSuchFieldException ignored) {
                // try the superclass
            }
        }
        throw new NoSuchFieldException(c.getName() + "." + name);
    }
}
