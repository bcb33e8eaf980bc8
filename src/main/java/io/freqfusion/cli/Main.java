package io.freqfusion.cli;

import io.freqfusion.backend.Backend;
import io.freqfusion.backend.Backends;
import io.freqfusion.backend.Stage;
import io.freqfusion.backend.StageTimes;
import io.freqfusion.model.FlopCount;
import io.freqfusion.model.FusionModel;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.model.Topology;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.runtime.Workload;
import io.freqfusion.tensor.Npy;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Command line: {@code fuse} tensors from files, {@code bench} a workload, {@code info} about backends. */
public final class Main {
    static final String USAGE = """
            usage: freqfusion <command> [options]
              fuse   --model M.safetensors [--params-prefix P] [--config JSON] [--pyramid single|fpn-add|fpn-concat]
                     --input IN.safetensors|[NAME=]IN.npy ... [--inputs-prefix P]
                     --output OUT.safetensors|DIR [--outputs-prefix P] [--backend cpu|tornado] [--threads N]
                     (without --model: the seeded reference initialisation sized to the inputs)
              bench  --workload W1|W2|W3|FPN4 [--config default|paper] [--backend cpu|tornado] [--threads N]
                     [--warmup N] [--warmup-seconds S] [--runs N] [--outputs all|levels|NAME,...]
                     (default outputs: a single module's all three, FPN4's levels y1..y4)
              info   backends available here
              serve  start the service (through ./freqfusion serve)
            """;

    private Main() {}

    public static void main(String[] argv) {
        System.exit(run(argv, System.out, System.err));
    }

    /** The backends on the class path, and what the embedded CPU backend runs on (threads, vector width). */
    private static void info(PrintStream out) {
        out.println("backends: " + Backends.available());
        try (Backend cpu = Backends.create("cpu", Map.of())) {
            out.println("cpu: " + cpu.device());
        }
    }

    static int run(String[] argv, PrintStream out, PrintStream err) {
        if (argv.length == 0 || argv[0].equals("--help") || argv[0].equals("-h") || argv[0].equals("help")) {
            out.print(USAGE);
            return argv.length == 0 ? 2 : 0;
        }
        try {
            switch (argv[0]) {
                case "fuse" -> fuse(argv, out);
                case "bench" -> new Bench(argv, out).run();
                case "info" -> info(out);
                default -> throw new Args.UsageException("unknown command '" + argv[0] + "' (fuse, bench, info)");
            }
            return 0;
        } catch (Args.UsageException e) {
            err.println("freqfusion: " + e.getMessage());
            err.print(USAGE);
            return 2;
        } catch (NoSuchFileException e) {
            err.println("freqfusion: no such file: " + e.getFile());
            return 1;
        } catch (IOException | IllegalArgumentException | IllegalStateException | UnsupportedOperationException e) {
            err.println("freqfusion: " + oneLine(e));
            return 1;
        } catch (OutOfMemoryError e) {
            err.println("freqfusion: out of memory (" + e.getMessage() + "); raise -Xmx through FREQFUSION_JVM_OPTS or use smaller inputs");
            return 1;
        }
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) m = e.getClass().getSimpleName();
        return m.replace('\n', ' ');
    }

    static Backend backend(Args a) {
        String name = a.get("backend", "cpu");
        Map<String, String> opts = new LinkedHashMap<>();
        String threads = a.get("threads", null);
        if (threads != null) opts.put("threads", threads);
        String device = a.get("device", null);
        if (device != null) opts.put("device", device);
        return Backends.create(name, opts);
    }

    private static void fuse(String[] argv, PrintStream out) throws IOException {
        Args a = new Args(argv, 1, Set.of("model", "params-prefix", "config", "pyramid", "input", "inputs-prefix",
                "output", "outputs-prefix", "backend", "threads", "device"));
        String inPrefix = a.get("inputs-prefix", "");
        String outPrefix = a.get("outputs-prefix", "");
        String output = a.require("output");
        if (a.all("input").isEmpty()) throw new Args.UsageException("--input is required");

        Map<String, Object> options = ModelLoader.parseOptions(readConfigArg(a.get("config", null)));
        String pyramid = a.get("pyramid", null);
        if (pyramid != null) options.put("pyramid", Topology.parse(pyramid).id);

        Map<String, Tensor> inputs = readInputs(a.all("input"), inPrefix);
        FusionModel model;
        String modelPath = a.get("model", null);
        if (modelPath != null) {
            model = ModelLoader.load(Path.of(modelPath), a.get("params-prefix", ""), options);
        } else {
            model = referenceModelFor(inputs, options);
        }
        for (String name : model.inputNames()) {
            if (!inputs.containsKey(name)) {
                throw new IllegalArgumentException("missing input '" + inPrefix + name + "' (this model takes " + model.inputNames() + ")");
            }
        }
        inputs.keySet().retainAll(model.inputNames());
        for (var e : inputs.entrySet()) {
            for (float v : e.getValue().data()) {
                if (!Float.isFinite(v)) throw new IllegalArgumentException("input '" + inPrefix + e.getKey() + "' contains a non-finite value (" + v + ")");
            }
        }
        Map<String, Tensor> result;
        try (Backend backend = backend(a); FusionRunner runner = new FusionRunner(model, backend)) {
            result = runner.run(inputs, null);
        }
        Map<String, Tensor> named = new LinkedHashMap<>();
        result.forEach((k, v) -> named.put(outPrefix + k, v));
        Path outPath = Path.of(output);
        if (output.endsWith(".safetensors")) {
            SafeTensors.write(outPath, named, Map.of("producer", "freqfusion-serve", "pyramid", model.topology().id));
        } else {
            Files.createDirectories(outPath);
            for (var e : named.entrySet()) Npy.write(outPath.resolve(e.getKey() + ".npy"), e.getValue());
        }
        out.println("wrote " + named.size() + " outputs to " + output + ": " + String.join(", ", named.keySet()));
    }

    private static String readConfigArg(String v) throws IOException {
        if (v == null) return null;
        if (v.startsWith("@")) return Files.readString(Path.of(v.substring(1)));
        if (!v.strip().startsWith("{") && Files.isRegularFile(Path.of(v))) return Files.readString(Path.of(v));
        return v;
    }

    private static Map<String, Tensor> readInputs(java.util.List<String> specs, String prefix) throws IOException {
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        for (String spec : specs) {
            if (spec.endsWith(".safetensors")) {
                SafeTensors.read(Path.of(spec)).tensors().forEach((k, v) -> {
                    if (k.startsWith(prefix)) inputs.put(k.substring(prefix.length()), v);
                });
            } else if (spec.endsWith(".npy")) {
                int eq = spec.indexOf('=');
                String name = eq > 0 ? spec.substring(0, eq) : Path.of(spec).getFileName().toString().replaceFirst("\\.npy$", "");
                String file = eq > 0 ? spec.substring(eq + 1) : spec;
                if (eq < 0 && name.startsWith(prefix)) name = name.substring(prefix.length());
                inputs.put(name, Npy.read(Path.of(file)));
            } else {
                throw new Args.UsageException("--input " + spec + ": expected a .safetensors or .npy file");
            }
        }
        return inputs;
    }

    /** Without --model: reference init sized to the inputs (single: hr/lr channels; pyramids: from x1..xN). */
    private static FusionModel referenceModelFor(Map<String, Tensor> inputs, Map<String, Object> options) {
        Map<String, Object> kw = new LinkedHashMap<>(options);
        Topology t = Topology.parse(String.valueOf(kw.getOrDefault("pyramid", inputs.containsKey("x1") ? "fpn-add" : "single")));
        kw.remove("pyramid");
        if (t == Topology.SINGLE) {
            Tensor hr = inputs.get("hr_feat"), lr = inputs.get("lr_feat");
            if (hr == null || lr == null || hr.rank() != 4 || lr.rank() != 4) throw new IllegalArgumentException("inputs hr_feat and lr_feat (rank 4) are required");
            kw.putIfAbsent("hr_channels", hr.dim(1));
            kw.putIfAbsent("lr_channels", lr.dim(1));
            return ModelLoader.builtIn(t, hr.dim(1), 2, kw, 0);
        }
        int levels = 0;
        while (inputs.containsKey("x" + (levels + 1))) levels++;
        if (levels < 2 || inputs.get("x1").rank() != 4) throw new IllegalArgumentException("pyramid inputs x1..xN (N >= 2, rank 4) are required");
        return ModelLoader.builtIn(t, inputs.get("x1").dim(1), levels, kw, 0);
    }

    /** {@code bench}: per-run times, then one JSON summary as the last line. */
    static final class Bench {
        private final Args a;
        private final PrintStream out;

        Bench(String[] argv, PrintStream out) {
            this.a = new Args(argv, 1, Set.of("workload", "config", "backend", "threads", "warmup", "warmup-seconds", "runs", "device", "outputs"));
            this.out = out;
        }

        void run() {
            Workload wl = Workload.parse(a.require("workload"));
            String config = a.get("config", "default");
            int warmup = a.intValue("warmup", 20, 0), runs = a.intValue("runs", 50, 1);
            // Warm up for N runs and at least S seconds: a short forward (W1: ~1 ms) needs thousands of calls before
            // the JIT has compiled every kernel, and timing it earlier measures the interpreter, not the kernels. C2's
            // first code can still trap and be recompiled seconds in: two loops of the resampler's tasks did, about
            // 3 s in (loop limit checks; since rewritten), and ran interpreted and allocating until recompiled: with
            // 3 s, 2-3 of 8 W1 paper processes allocated 0.4-2 MB per run in the timed runs, with 6 s none of 8.
            int warmupSeconds = a.intValue("warmup-seconds", 6, 0);
            FusionModel model = wl.model(config, 42);
            Map<String, Tensor> inputs = wl.randomInputs(System.nanoTime());
            long macs = FlopCount.macs(model, wl.inputShapes());
            java.util.List<String> wanted = wantedOutputs(model);
            try (Backend backend = backend(a); FusionRunner runner = new FusionRunner(model, backend)) {
                Map<String, Tensor> outputs = runner.newOutputs(inputs, wanted);
                out.println("outputs: " + String.join(" ", outputs.keySet()));
                long t0 = System.nanoTime();
                runner.runInto(inputs, outputs, null);      // first call: prepare (and JIT-compile for accelerators)
                out.printf(Locale.ROOT, "prepare+first run: %.1f ms on %s%n", (System.nanoTime() - t0) / 1e6, backend.device());
                long warmupEnd = System.nanoTime() + warmupSeconds * 1_000_000_000L;
                int warmed = 0;
                // warmed up exactly as timed, stage clock included: a path first taken in the timed runs makes the JIT
                // throw away code compiled without it, and the first timed runs then ran interpreted
                StageTimes stages = new StageTimes();
                for (; warmed < warmup || System.nanoTime() < warmupEnd; warmed++) runner.runInto(inputs, outputs, stages);
                stages.clear();
                out.printf(Locale.ROOT, "warm-up: %d runs%n", warmed);
                double[] ms = new double[runs];
                com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
                long alloc0 = mx.getTotalThreadAllocatedBytes();
                for (int i = 0; i < runs; i++) {
                    long s = System.nanoTime();
                    runner.runInto(inputs, outputs, stages);
                    ms[i] = (System.nanoTime() - s) / 1e6;
                }
                // read before printing: the per-run lines allocate (formatting), the forwards must not
                long allocPerOp = Math.max(0, (mx.getTotalThreadAllocatedBytes() - alloc0) / runs);
                for (int i = 0; i < runs; i++) out.printf(Locale.ROOT, "run %d: %.3f ms%n", i + 1, ms[i]);
                double[] sorted = ms.clone();
                Arrays.sort(sorted);
                double median = runs % 2 == 1 ? sorted[runs / 2] : (sorted[runs / 2 - 1] + sorted[runs / 2]) / 2;
                double total = 0;
                for (Stage st : Stage.values()) total += stages.nanos(st);
                StringBuilder split = new StringBuilder();
                for (Stage st : Stage.values()) {
                    if (stages.nanos(st) > 0) split.append(String.format(Locale.ROOT, " %s=%.0f%%", st.metricName, 100.0 * stages.nanos(st) / total));
                }
                out.println("stages:" + split);
                out.printf(Locale.ROOT,
                        "{\"workload\":\"%s\",\"config\":\"%s\",\"backend\":\"%s\",\"threads\":%d,\"median_ms\":%.4f,\"min_ms\":%.4f,\"gflops\":%.2f,\"alloc_bytes_per_op\":%d}%n",
                        wl.name(), config, backend.name(), threads(backend), median, sorted[0], 2.0 * macs / (median * 1e6), allocPerOp);
            }
        }

        /**
         * --outputs: "all", "levels" (a pyramid's y1..yN, what an FPN neck reads) or a comma list of output names; by
         * default all of a single module's outputs and a pyramid's levels.
         */
        private java.util.List<String> wantedOutputs(FusionModel model) {
            String v = a.get("outputs", null);
            if (v == null) return Workload.benchOutputs(model);
            if (v.equals("all")) return null;
            if (v.equals("levels")) {
                if (model.topology() == Topology.SINGLE) throw new Args.UsageException("--outputs levels: a single module has no levels (use all or names)");
                return Workload.benchOutputs(model);
            }
            java.util.List<String> names = java.util.List.of(v.split(","));
            for (String n : names) {
                if (!model.outputNames().contains(n)) throw new Args.UsageException("--outputs: unknown output '" + n + "' (" + model.outputNames() + ")");
            }
            return names;
        }

        private int threads(Backend b) {
            if (b instanceof io.freqfusion.backend.cpu.CpuBackend cpu) return cpu.threads();
            return a.intValue("threads", Runtime.getRuntime().availableProcessors(), 0);
        }
    }
}
