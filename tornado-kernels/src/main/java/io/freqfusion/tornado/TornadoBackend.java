package io.freqfusion.tornado;

import io.freqfusion.backend.Backend;
import io.freqfusion.backend.ProfiledBackend;
import io.freqfusion.backend.ForwardShape;
import io.freqfusion.backend.ModuleForward;
import io.freqfusion.model.FreqFusionModule;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * FreqFusion on a TornadoVM device (OpenCL, PTX or SPIR-V): each {@link #prepare} builds one TaskGraph covering the
 * whole forward of that module's path for that input shape (see {@link TornadoModuleForward}), JIT-compiles it and
 * keeps its execution plan.
 *
 * <p>Must run in a JVM started with TornadoVM's argfile ({@code tornado-kernels/tornado-jvm-flags.sh}); a bailout
 * to sequential Java is disabled ({@code tornado.recover.bailout=False}): a kernel TornadoVM cannot compile is an
 * error, never a silent fallback.
 *
 * <p>Observability API (for metrics): {@link #compileNanos()}, {@link #lastProfile()}, {@link #lastExecution()},
 * {@link #kernelNanosTotal()}, {@link #executions()}.
 */
public final class TornadoBackend implements ProfiledBackend {
    static {
        // Read once by TornadoOptions when the runtime starts: make a bailout an error. Set before any TornadoVM class is used.
        String v = System.getProperty("tornado.recover.bailout");
        if (v != null && !v.equalsIgnoreCase("false")) {
            System.err.println("freqfusion tornado: overriding -Dtornado.recover.bailout=" + v + " with False (no silent fallback to Java)");
        }
        System.setProperty("tornado.recover.bailout", "False");
        // TornadoVM's bytecode buffer per task graph defaults to 4096 bytes: too small for a whole forward with the
        // offset generator (~35 tasks). Only effective if TornadoVM's classes are not initialised yet (the flags set it too).
        if (System.getProperty("tornado.tvm.maxbytecodesize") == null) System.setProperty("tornado.tvm.maxbytecodesize", "65536");
    }

    /** Default OpenCL build options: TornadoVM's default minus -cl-fast-relaxed-math (full-precision exp/sqrt). */
    public static final String DEFAULT_OPENCL_FLAGS = "-cl-mad-enable -w";

    /** TornadoVM's runtime is driven from one thread at a time (compilation and execution of all plans). */
    static final ReentrantLock RUNTIME_LOCK = new ReentrantLock();
    private static final AtomicLong GRAPH_IDS = new AtomicLong();

    private final int backendIndex, deviceIndex;
    private final TornadoDevice device;
    private final String description;
    private final boolean profile;
    private final String compilerFlags;

    private final LongAdder compileNanos = new LongAdder();
    private final LongAdder prepareNanos = new LongAdder();
    private final AtomicLong graphs = new AtomicLong();
    private final AtomicLong executions = new AtomicLong();
    private volatile ExecutionProfile last = ExecutionProfile.EMPTY;
    private final Map<String, LongAdder> kernelTotals = new ConcurrentHashMap<>();
    /** Sums over steady-state executions (no JIT in them): count, wall, TornadoVM total, kernels, copy-in, copy-out, bytes in, bytes out. */
    private final long[] steady = new long[8];

    public TornadoBackend(Map<String, String> options) {
        String dev = options.getOrDefault("device", "0:0");
        if (dev == null || dev.isBlank()) dev = "0:0";
        String[] bd = dev.strip().split(":");
        try {
            if (bd.length != 2) throw new NumberFormatException();
            backendIndex = Integer.parseInt(bd[0].strip());
            deviceIndex = Integer.parseInt(bd[1].strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("tornado backend: device must be 'B:D' (TornadoVM backend index : device index, e.g. 0:0), got '" + dev + "'");
        }
        String p = options.getOrDefault("profile", "on");
        profile = !(p.equalsIgnoreCase("off") || p.equalsIgnoreCase("false"));
        String flags = options.get("compiler-flags");
        compilerFlags = flags == null || flags.isBlank() ? DEFAULT_OPENCL_FLAGS : flags;
        try {
            TornadoRuntime rt = TornadoRuntimeProvider.getTornadoRuntime();
            if (backendIndex < 0 || backendIndex >= rt.getNumBackends()) {
                throw new IllegalArgumentException("tornado backend: no TornadoVM backend " + backendIndex + " (this JVM has "
                        + rt.getNumBackends() + "; devices: " + listDevices(rt) + ")");
            }
            var be = rt.getBackend(backendIndex);
            if (deviceIndex < 0 || deviceIndex >= be.getNumDevices()) {
                throw new IllegalArgumentException("tornado backend: backend " + backendIndex + " (" + be.getName() + ") has no device "
                        + deviceIndex + " (devices: " + listDevices(rt) + ")");
            }
            device = TornadoExecutionPlan.getDevice(backendIndex, deviceIndex);
            description = "tornado " + backendIndex + ":" + deviceIndex + " " + be.getBackendType() + " " + device.getDeviceName()
                    + " (" + device.getPlatformName().strip() + ")";
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (LinkageError | RuntimeException e) {
            throw new IllegalStateException("tornado backend: TornadoVM runtime unavailable (" + e + "). Start the JVM with TornadoVM's flags: "
                    + "./freqfusion ... --backend tornado with TORNADOVM_HOME set (see tornado-kernels/tornado-jvm-flags.sh)", e);
        }
    }

    private static String listDevices(TornadoRuntime rt) {
        StringBuilder sb = new StringBuilder();
        for (int b = 0; b < rt.getNumBackends(); b++) {
            var be = rt.getBackend(b);
            for (int d = 0; d < be.getNumDevices(); d++) {
                if (!sb.isEmpty()) sb.append(", ");
                sb.append(b).append(':').append(d).append(' ').append(be.getDevice(d).getDeviceName());
            }
        }
        return sb.isEmpty() ? "none" : sb.toString();
    }

    @Override
    public String name() { return "tornado"; }

    @Override
    public String device() { return description; }

    /** The TornadoVM device (backend index : device index of the "device" option). */
    public TornadoDevice tornadoDevice() { return device; }

    public int backendIndex() { return backendIndex; }

    public int deviceIndex() { return deviceIndex; }

    @Override
    public ModuleForward prepare(FreqFusionModule module, ForwardShape shape) {
        long t0 = System.nanoTime();
        TornadoModuleForward f = new TornadoModuleForward(this, module, shape, "ff" + GRAPH_IDS.incrementAndGet());
        prepareNanos.add(System.nanoTime() - t0);
        graphs.incrementAndGet();
        return f;
    }

    // ------------------------------------------------------------------ observability (for metrics)

    /** Total JIT compilation time (Graal to OpenCL/PTX plus the driver's build) of every graph prepared so far, in ns. */
    @Override
    public long compileNanos() { return compileNanos.sum(); }

    /** Total wall time of {@link #prepare} calls (graph building, JIT, weight transfer, warm-up run), in ns. */
    public long prepareNanos() { return prepareNanos.sum(); }

    /** Number of task graphs (module x input shape) prepared. */
    public long compiledGraphs() { return graphs.get(); }

    /** Number of forward executions (warm-up runs included). */
    public long executions() { return executions.get(); }

    /**
     * Device kernel time per task of the most recent execution, task name (e.g. "enc_lh", "carafe_lr") to ns, in
     * graph order. Empty when profiling is off. Task names are a small fixed set (bounded metric label values).
     */
    public Map<String, Long> lastProfile() { return last.taskKernelNanos(); }

    /** The most recent execution's profile (totals, transfers, per-task kernel times). */
    public ExecutionProfile lastExecution() { return last; }

    /** Cumulative device kernel time per task name over all executions, in ns (counter semantics). */
    @Override
    public Map<String, Long> kernelNanosTotal() {
        Map<String, Long> m = new LinkedHashMap<>();
        kernelTotals.forEach((k, v) -> m.put(k, v.sum()));
        return Collections.unmodifiableMap(m);
    }

    boolean profiling() { return profile; }

    String compilerFlags() { return compilerFlags; }

    boolean isOpenCL() { return device.getTornadoVMBackend() == TornadoVMBackendType.OPENCL; }

    void recordCompile(long nanos) { compileNanos.add(nanos); }

    void recordExecution(ExecutionProfile p) {
        executions.incrementAndGet();
        if (p == null) return;
        last = p;
        p.taskKernelNanos().forEach((k, v) -> kernelTotals.computeIfAbsent(k, x -> new LongAdder()).add(v));
        if (p.compileNanos() == 0) {
            synchronized (steady) {
                long[] v = {1, p.wallNanos(), p.totalNanos(), p.kernelNanos(), p.copyInNanos(), p.copyOutNanos(), p.bytesIn(), p.bytesOut()};
                for (int i = 0; i < v.length; i++) steady[i] += v[i];
            }
        }
    }

    /**
     * Where the time goes, as text: JIT and prepare totals, then per steady-state call (means, no JIT) the wall time of
     * run() (host copies included), TornadoVM's own total, device kernels, host-to-device and device-to-host copies,
     * then the tasks with the most cumulative kernel time.
     */
    public String report() {
        long[] v;
        synchronized (steady) {
            v = steady.clone();
        }
        long n = Math.max(1, v[0]);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(java.util.Locale.ROOT, "tornado report (%s): %d graphs, JIT %.2f s, prepare %.2f s (JIT + weight upload + warm-up run)%n",
                description, graphs.get(), compileNanos() / 1e9, prepareNanos() / 1e9));
        sb.append(String.format(java.util.Locale.ROOT,
                "  per call (mean of %d steady-state runs): wall %.3f ms = TornadoVM %.3f ms [kernels %.3f ms, copy-in %.3f ms (%d B), copy-out %.3f ms (%d B), dispatch/sync rest] + host copies%n",
                v[0], v[1] / 1e6 / n, v[2] / 1e6 / n, v[3] / 1e6 / n, v[4] / 1e6 / n, v[6] / n, v[5] / 1e6 / n, v[7] / n));
        var totals = kernelNanosTotal();
        long sum = totals.values().stream().mapToLong(Long::longValue).sum();
        totals.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(12).forEach(e ->
                sb.append(String.format(java.util.Locale.ROOT, "  kernel %-14s %5.1f%%%n", e.getKey(), 100.0 * e.getValue() / Math.max(1, sum))));
        return sb.toString();
    }

    /** Prints {@link #report()} to stderr when -Dfreqfusion.tornado.report=true or FREQFUSION_TORNADO_REPORT=1. */
    @Override
    public void close() {
        if (Boolean.getBoolean("freqfusion.tornado.report") || "1".equals(System.getenv("FREQFUSION_TORNADO_REPORT"))) {
            System.err.print(report());
        }
    }

    /**
     * One execution of a forward's task graph as the TornadoVM profiler saw it (ns and bytes). Values TornadoVM did not
     * report are 0.
     */
    public record ExecutionProfile(String graph, long wallNanos, long totalNanos, long compileNanos, long kernelNanos,
                                   long copyInNanos, long copyOutNanos, long bytesIn, long bytesOut,
                                   Map<String, Long> taskKernelNanos) {
        static final ExecutionProfile EMPTY = new ExecutionProfile("", 0, 0, 0, 0, 0, 0, 0, 0, Map.of());
    }
}
