package io.freqfusion.serve;

import io.freqfusion.model.FusionModel;
import io.freqfusion.serve.InferenceException.Kind;
import io.freqfusion.serve.admission.MemoryBudget;
import io.freqfusion.serve.metrics.ServeMetrics;
import io.freqfusion.serve.repository.ModelRepository;
import io.freqfusion.serve.repository.ModelState;
import io.freqfusion.serve.repository.ServedModel;
import io.freqfusion.serve.scheduling.InferenceJob;
import io.freqfusion.tensor.DType;
import io.freqfusion.tensor.Tensor;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The protocol-neutral part of inference shared by REST and gRPC: resolve the model, validate every input against
 * the limits and the model (names, datatypes, ranks, shapes, element counts, finite values) before decoding, and
 * hand the request to the model's batcher with a timeout.
 */
@ApplicationScoped
public class InferenceService {

    /**
     * An input as received: either {@code values} (JSON numbers, gRPC typed contents; exact length) or {@code raw}
     * (binary extension, raw_input_contents; little-endian elements of {@code datatype}).
     */
    public record InputTensor(String name, String datatype, long[] shape, float[] values, ByteBuffer raw) {}

    /** Model names: as the repository's folder names (no '/', no leading '.', so never a path). */
    public static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

    @Inject
    ModelRepository repository;
    @Inject
    ServeConfig config;
    @Inject
    ServeMetrics metrics;
    @Inject
    MemoryBudget budget;

    public ModelRepository repository() { return repository; }
    public ServeConfig config() { return config; }
    public ServeMetrics metrics() { return metrics; }
    public MemoryBudget budget() { return budget; }

    /** The model tag for metrics: the name if it is a configured model, else {@link ServeMetrics#UNKNOWN_MODEL}. */
    public String metricModel(String name) {
        return name != null && repository.get(name) != null ? name : ServeMetrics.UNKNOWN_MODEL;
    }

    /** The model if it exists (404 otherwise), whatever its state. Version: null/empty or "1". */
    public ServedModel find(String name, String version) {
        if (name != null && !name.isEmpty() && (!MODEL_NAME.matcher(name).matches() || name.contains(".."))) {
            throw InferenceException.invalid("invalid model name (letters, digits, '_', '.', '-'; at most 128; no '..')");
        }
        if (version != null && version.length() > 32) throw InferenceException.invalid("invalid model version");
        ServedModel m = name == null || name.isEmpty() ? null : repository.get(name);
        if (m == null) {
            throw new InferenceException(Kind.NOT_FOUND, "unknown model '" + (name == null ? "" : name) + "' (available: " + repository.names() + ")");
        }
        if (version != null && !version.isEmpty() && !version.equals(ServedModel.VERSION)) {
            throw new InferenceException(Kind.NOT_FOUND, "model '" + name + "' has no version '" + version + "' (available: [" + ServedModel.VERSION + "])");
        }
        return m;
    }

    /** The model, READY (503 with the state and reason otherwise). */
    public ServedModel resolve(String name, String version) {
        ServedModel m = find(name, version);
        if (m.state() != ModelState.READY) {
            throw new InferenceException(Kind.UNAVAILABLE, "model '" + name + "' is " + m.state()
                    + (m.reason() != null ? ": " + m.reason() : m.state() == ModelState.LOADING ? " (retry shortly)" : ""));
        }
        return m;
    }

    /**
     * Validates the inputs and requested outputs (null or empty: all) and builds the job. Shapes and sizes are checked
     * against the limits and the model before any tensor is decoded or allocated.
     */
    public InferenceJob prepare(ServedModel served, List<InputTensor> inputs, List<String> requestedOutputs) {
        return prepare(served, inputs, requestedOutputs, null, o -> false, null);
    }

    /**
     * As {@link #prepare(ServedModel, List, List)}, and reserves the request's working set (decoded inputs, outputs
     * encoded as {@code binaryOutput} says) on {@code ticket} before anything is decoded: 429 (retry) or 413 (never
     * fits) when the admission budget cannot hold it.
     */
    public InferenceJob prepare(ServedModel served, List<InputTensor> inputs, List<String> requestedOutputs,
                                MemoryBudget.Ticket ticket, Predicate<String> binaryOutput, String requestId) {
        FusionModel model = served.model();
        List<String> names = model.inputNames();
        Map<String, InputTensor> byName = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            InputTensor t = inputs.get(i);
            if (t.name() == null || t.name().isEmpty()) throw InferenceException.invalid("input #" + (i + 1) + " has no name");
            if (!names.contains(t.name())) {
                throw InferenceException.invalid("unexpected input '" + t.name() + "' (model '" + served.name() + "' takes " + names + ")");
            }
            if (byName.put(t.name(), t) != null) throw InferenceException.invalid("input '" + t.name() + "' is given more than once");
        }
        for (String n : names) {
            if (!byName.containsKey(n)) throw InferenceException.invalid("missing input '" + n + "' (model '" + served.name() + "' takes " + names + ")");
        }
        ServeConfig.Limits limits = config.limits();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        Map<String, DType> types = new LinkedHashMap<>();
        long totalElements = 0;
        for (String n : names) {
            InputTensor t = byName.get(n);
            DType dt = oipType(t.datatype());
            if (dt == null) {
                throw InferenceException.invalid("input '" + n + "': datatype '" + t.datatype() + "' is not supported (FP32; FP16 and BF16 are converted)");
            }
            long[] s = t.shape();
            if (s == null) throw InferenceException.invalid("input '" + n + "': missing shape");
            if (s.length != 4) throw InferenceException.invalid("input '" + n + "': shape " + Arrays.toString(s) + " has rank " + s.length + ", expected rank 4 (N, C, H, W)");
            for (long d : s) {
                if (d < 1) throw InferenceException.invalid("input '" + n + "': shape " + Arrays.toString(s) + " has a dimension < 1");
            }
            int maxSpatial = served.maxSpatial() > 0 ? Math.min(served.maxSpatial(), limits.maxSpatial()) : limits.maxSpatial();
            if (s[2] > maxSpatial || s[3] > maxSpatial) {
                throw new InferenceException(Kind.TOO_LARGE, "input '" + n + "': spatial size " + s[2] + "x" + s[3]
                        + " exceeds the limit " + maxSpatial + (served.maxSpatial() > 0 && served.maxSpatial() < limits.maxSpatial()
                        ? " (the model's max_spatial)" : " (freqfusion.limits.max-spatial)"));
            }
            if (s[0] > served.maxBatchSize()) {
                throw InferenceException.invalid("input '" + n + "': batch size " + s[0] + " exceeds the model's max_batch_size " + served.maxBatchSize());
            }
            long numel = Tensor.numel(s);
            totalElements = numel == Long.MAX_VALUE ? Long.MAX_VALUE : totalElements + numel;
            if (numel > limits.maxTensorElements() || totalElements > limits.maxTensorElements()) {
                throw new InferenceException(Kind.TOO_LARGE, "input '" + n + "': shape " + Arrays.toString(s) + " brings the request to "
                        + (numel == Long.MAX_VALUE ? "too many" : Long.toString(totalElements)) + " elements, over the limit of "
                        + limits.maxTensorElements() + " (freqfusion.limits.max-tensor-elements)");
            }
            if (s[1] > Integer.MAX_VALUE) throw InferenceException.invalid("input '" + n + "': channel count " + s[1] + " is out of range");
            if (t.values() != null) {
                if (t.values().length != numel) {
                    throw InferenceException.invalid("input '" + n + "': shape " + Arrays.toString(s) + " needs " + numel
                            + " elements but the data has " + t.values().length);
                }
            } else if (t.raw() != null) {
                long want = numel * dt.bytes;
                if (t.raw().remaining() != want) {
                    throw InferenceException.invalid("input '" + n + "': shape " + Arrays.toString(s) + " of " + t.datatype() + " needs "
                            + want + " bytes but the binary data has " + t.raw().remaining());
                }
            } else {
                throw InferenceException.invalid("input '" + n + "': no data");
            }
            shapes.put(n, new int[] {(int) s[0], (int) s[1], (int) s[2], (int) s[3]});
            types.put(n, dt);
        }
        Map<String, int[]> outShapes;
        try {
            outShapes = model.outputShapes(shapes); // channels, hr = 2 x lr, batch agreement... (ShapeException names the tensor)
        } catch (IllegalArgumentException e) {
            throw InferenceException.invalid(e.getMessage());
        }
        List<String> outs = outputs(served, requestedOutputs);
        if (ticket != null) {
            // the working set, before anything is decoded: inputs, every output the forward makes (those asked for and
            // a pyramid's levels), the encoded ones; plan scratch scales with all outputs
            long cost = MemoryBudget.inputBytes(totalElements);
            for (var e : outShapes.entrySet()) {
                long numel = Tensor.numel(e.getValue());
                if (outs.contains(e.getKey())) cost = sat(cost, MemoryBudget.outputBytes(numel, binaryOutput.test(e.getKey())));
                else if (model.alwaysMade(e.getKey())) cost = sat(cost, MemoryBudget.mul(numel, 8));
                cost = sat(cost, MemoryBudget.mul(numel, MemoryBudget.PLAN_BYTES_PER_OUTPUT_ELEMENT));
            }
            ticket.reserve(cost, "the request (" + totalElements + " input elements)");
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (String n : names) {
            InputTensor t = byName.get(n);
            int[] s = shapes.get(n);
            float[] data = t.values();
            if (data == null) {
                data = new float[(int) Tensor.numel(s)];
                types.get(n).decode(t.raw().duplicate(), data, 0, data.length);
            }
            checkFinite(n, data);
            tensors.put(n, new Tensor(s, data));
        }
        return new InferenceJob(tensors, outs, requestId, ticket);
    }

    private static long sat(long a, long b) {
        long r = a + b;
        return r < 0 ? Long.MAX_VALUE : r;
    }

    /** Submits to the model's batcher (QUEUE_FULL at once if full); the future fails with a TimeoutException after {@code timeout}. */
    public CompletableFuture<Map<String, Tensor>> submit(ServedModel served, InferenceJob job, Duration timeout) {
        job.admitted(); // from here the job holds its request's reservation until the batcher lets go of it
        try {
            served.batcher().submit(job);
        } catch (RuntimeException e) {
            job.left();
            throw e;
        }
        Duration t = timeout == null || timeout.compareTo(config.requestTimeout()) > 0 ? config.requestTimeout() : timeout;
        return job.result().orTimeout(Math.max(1, t.toMillis()), TimeUnit.MILLISECONDS);
    }

    private static List<String> outputs(ServedModel served, List<String> requested) {
        List<String> all = served.model().outputNames();
        if (requested == null || requested.isEmpty()) return all;
        Set<String> seen = new HashSet<>();
        List<String> out = new ArrayList<>();
        for (String r : requested) {
            if (r == null || !all.contains(r)) throw InferenceException.invalid("unknown output '" + r + "' (model '" + served.name() + "' produces " + all + ")");
            if (!seen.add(r)) throw InferenceException.invalid("output '" + r + "' is requested more than once");
            out.add(r);
        }
        return out;
    }

    /** OIP datatype names accepted on input. */
    public static DType oipType(String name) {
        if (name == null) return null;
        return switch (name) {
            case "FP32" -> DType.F32;
            case "FP16" -> DType.F16;
            case "BF16" -> DType.BF16;
            default -> null;
        };
    }

    static void checkFinite(String name, float[] d) {
        for (int i = 0; i < d.length; i++) {
            if (!Float.isFinite(d[i])) {
                throw InferenceException.invalid("input '" + name + "': element " + i + " is " + d[i] + " (values must be finite)");
            }
        }
    }
}
