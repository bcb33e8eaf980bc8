package io.freqfusion.loadtest;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Request payloads for the load tests: realistic FreqFusion tensors for the service's built-in models,
 * generated once (seeded) and reused by every request of a run.
 * <ul>
 *   <li>{@code w1}: model {@code freqfusion} (C=256), hr_feat 1x256x32x32, lr_feat 1x256x16x16</li>
 *   <li>{@code w2}: model {@code freqfusion} (C=256), hr_feat 1x256x64x64, lr_feat 1x256x32x32</li>
 *   <li>{@code fpn}: model {@code freqfusion-fpn} (C=256, add chain), x1..x4 at 32, 16, 8, 4 pixels</li>
 *   <li>{@code small}: model {@code freqfusion-small} (C=8), hr 1x8x32x32, lr 1x8x16x16 (smoke runs)</li>
 * </ul>
 * Outputs requested: the fused features (hr_feat, lr_feat for single modules; y1..y4 for pyramids).
 */
public record Workload(String id, String model, List<Tensor> inputs, List<String> outputs) {

    public record Tensor(String name, long[] shape, float[] data) {
        long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        String shapeJson() {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < shape.length; i++) sb.append(i > 0 ? "," : "").append(shape[i]);
            return sb.append(']').toString();
        }

        byte[] littleEndian() {
            ByteBuffer b = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(data);
            return b.array();
        }
    }

    public static Workload named(String id) {
        return switch (id.toLowerCase(Locale.ROOT)) {
            case "w1" -> single("w1", "freqfusion", 256, 32);
            case "w2" -> single("w2", "freqfusion", 256, 64);
            case "small" -> single("small", "freqfusion-small", 8, 32);
            case "fpn" -> {
                List<Tensor> in = new ArrayList<>();
                int[] sizes = {32, 16, 8, 4};
                for (int i = 0; i < 4; i++) in.add(tensor("x" + (i + 1), 256, sizes[i], 11 + i));
                yield new Workload("fpn", "freqfusion-fpn", in, List.of("y1", "y2", "y3", "y4"));
            }
            default -> throw new IllegalArgumentException("unknown workload " + id + " (w1, w2, fpn, small)");
        };
    }

    /** From -Dworkload (default w1). */
    public static Workload fromSystemProperties() {
        return named(System.getProperty("workload", "w1"));
    }

    private static Workload single(String id, String model, int c, int hr) {
        return new Workload(id, model, List.of(tensor("hr_feat", c, hr, 1), tensor("lr_feat", c, hr / 2, 2)),
                List.of("hr_feat", "lr_feat"));
    }

    private static Tensor tensor(String name, int c, int hw, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] d = new float[c * hw * hw];
        // feature-map-like values: roughly N(0,1) activations
        for (int i = 0; i < d.length; i++) d[i] = (float) ((r.nextDouble() + r.nextDouble() + r.nextDouble() - 1.5) * 2.0);
        return new Tensor(name, new long[] {1, c, hw, hw}, d);
    }

    public String inferPath() {
        return "/v2/models/" + model + "/infer";
    }

    /** OIP v2 JSON request: flat row-major data. */
    public String jsonBody() {
        StringBuilder sb = new StringBuilder(1 << 20);
        sb.append("{\"id\":\"loadtest\",\"inputs\":[");
        for (int t = 0; t < inputs.size(); t++) {
            Tensor x = inputs.get(t);
            sb.append(t > 0 ? "," : "").append("{\"name\":\"").append(x.name()).append("\",\"shape\":")
                    .append(x.shapeJson()).append(",\"datatype\":\"FP32\",\"data\":[");
            float[] d = x.data();
            for (int i = 0; i < d.length; i++) {
                if (i > 0) sb.append(',');
                sb.append(d[i]);
            }
            sb.append("]}");
        }
        sb.append("],\"outputs\":[");
        for (int i = 0; i < outputs.size(); i++) sb.append(i > 0 ? "," : "").append("{\"name\":\"").append(outputs.get(i)).append("\"}");
        return sb.append("]}").toString();
    }

    /** JSON header of the binary tensor data extension request. */
    public String binaryHeader() {
        StringBuilder sb = new StringBuilder("{\"id\":\"loadtest\",\"inputs\":[");
        for (int t = 0; t < inputs.size(); t++) {
            Tensor x = inputs.get(t);
            sb.append(t > 0 ? "," : "").append("{\"name\":\"").append(x.name()).append("\",\"shape\":").append(x.shapeJson())
                    .append(",\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":").append(x.elements() * 4).append("}}");
        }
        sb.append("],\"outputs\":[");
        for (int i = 0; i < outputs.size(); i++) {
            sb.append(i > 0 ? "," : "").append("{\"name\":\"").append(outputs.get(i)).append("\",\"parameters\":{\"binary_data\":true}}");
        }
        return sb.append("]}").toString();
    }

    /** Binary tensor data extension body: JSON header followed by the raw little-endian tensors. */
    public byte[] binaryBody() {
        var out = new ByteArrayOutputStream();
        out.writeBytes(binaryHeader().getBytes(StandardCharsets.UTF_8));
        for (Tensor x : inputs) out.writeBytes(x.littleEndian());
        return out.toByteArray();
    }

    public int binaryHeaderLength() {
        return binaryHeader().getBytes(StandardCharsets.UTF_8).length;
    }

    /** gRPC ModelInferRequest (inference.GRPCInferenceService/ModelInfer) with raw_input_contents, hand-encoded. */
    public byte[] grpcRequest() {
        Proto req = new Proto();
        req.string(1, model);
        req.string(3, "loadtest");
        for (Tensor x : inputs) {
            Proto t = new Proto();
            t.string(1, x.name());
            t.string(2, "FP32");
            t.packedInt64(3, x.shape());
            req.message(5, t);
        }
        for (String o : outputs) {
            Proto t = new Proto();
            t.string(1, o);
            req.message(6, t);
        }
        for (Tensor x : inputs) req.bytes(7, x.littleEndian());
        return req.toByteArray();
    }

    /** Minimal protobuf writer (length-delimited fields and packed varints are all ModelInferRequest needs). */
    static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        void varint(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        void tag(int field, int wire) {
            varint(((long) field << 3) | wire);
        }

        void bytes(int field, byte[] b) {
            tag(field, 2);
            varint(b.length);
            out.writeBytes(b);
        }

        void string(int field, String s) {
            bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        void message(int field, Proto m) {
            bytes(field, m.toByteArray());
        }

        void packedInt64(int field, long[] values) {
            Proto p = new Proto();
            for (long v : values) p.varint(v);
            bytes(field, p.toByteArray());
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }
}
