package io.freqfusion.tensor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format: 8-byte little-endian header length N, N bytes of JSON header, then raw
 * little-endian data addressed by each tensor's {@code data_offsets}. Reading is strict: every
 * length and offset is checked against the actual size before anything is allocated from it.
 */
public final class SafeTensors {
    /** Headers larger than this are rejected before being read (the format's own reference limit). */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafeTensors() {}

    /** A parsed file: tensors in header order, and the string metadata. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {
        public Tensor require(String name) {
            Tensor t = tensors.get(name);
            if (t == null) throw new TensorFormatException("missing tensor '" + name + "'");
            return t;
        }
    }

    public static Contents read(Path path) throws IOException {
        long size = Files.size(path);
        if (size > Integer.MAX_VALUE - 8) {
            throw new TensorFormatException(path + ": file of " + size + " bytes is larger than the 2 GiB this reader supports");
        }
        try {
            return read(ByteBuffer.wrap(Files.readAllBytes(path)));
        } catch (TensorFormatException e) {
            throw new TensorFormatException(path.getFileName() + ": " + e.getMessage(), e);
        }
    }

    public static Contents read(ByteBuffer buffer) {
        ByteBuffer buf = buffer.slice().order(ByteOrder.LITTLE_ENDIAN);
        long total = buf.remaining();
        if (total < 8) throw new TensorFormatException("truncated: " + total + " bytes, fewer than the 8-byte header length");
        long headerLen = buf.getLong(0);
        if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
            throw new TensorFormatException("header length " + Long.toUnsignedString(headerLen) + " is out of range [2, " + MAX_HEADER_BYTES + "]");
        }
        if (headerLen > total - 8) {
            throw new TensorFormatException("truncated: header length " + headerLen + " exceeds the " + (total - 8) + " bytes after it");
        }
        byte[] headerBytes = new byte[(int) headerLen];
        buf.get(8, headerBytes);
        JsonNode header;
        try {
            header = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            throw new TensorFormatException("header is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (header == null || !header.isObject()) throw new TensorFormatException("header is not a JSON object");
        int dataStart = (int) (8 + headerLen);
        long dataLen = total - dataStart;

        Map<String, String> metadata = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        List<String> rangeNames = new ArrayList<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> fields = header.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> e = fields.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) throw new TensorFormatException("__metadata__ is not a JSON object");
                v.fields().forEachRemaining(m -> {
                    if (!m.getValue().isTextual()) {
                        throw new TensorFormatException("__metadata__ value '" + m.getKey() + "' is not a string");
                    }
                    metadata.put(m.getKey(), m.getValue().asText());
                });
                continue;
            }
            if (!v.isObject()) throw new TensorFormatException("tensor '" + name + "': entry is not a JSON object");
            String dtypeName = v.path("dtype").asText(null);
            DType dtype = DType.parse(dtypeName);
            if (dtype == null || dtypeName.startsWith("FP")) {
                throw new TensorFormatException("tensor '" + name + "': unsupported dtype " + dtypeName + " (supported: F32, F16, BF16)");
            }
            int[] shape = parseShape(name, v.path("shape"));
            JsonNode off = v.path("data_offsets");
            if (!off.isArray() || off.size() != 2 || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
                throw new TensorFormatException("tensor '" + name + "': data_offsets must be two integers");
            }
            long begin = off.get(0).asLong(), end = off.get(1).asLong();
            if (begin < 0 || end < begin || end > dataLen) {
                throw new TensorFormatException("tensor '" + name + "': data_offsets [" + begin + ", " + end
                        + "] outside the data section of " + dataLen + " bytes");
            }
            long numel = Tensor.numel(shape);
            if (numel * dtype.bytes != end - begin) {
                throw new TensorFormatException("tensor '" + name + "': shape " + java.util.Arrays.toString(shape) + " of "
                        + dtypeName + " needs " + (numel * dtype.bytes) + " bytes but data_offsets give " + (end - begin));
            }
            ranges.add(new long[] {begin, end});
            rangeNames.add(name);
            float[] data = new float[(int) numel];
            dtype.decode(buf.position(dataStart + (int) begin), data, 0, (int) numel);
            tensors.put(name, new Tensor(shape, data));
        }
        checkNoOverlap(ranges, rangeNames);
        return new Contents(tensors, metadata);
    }

    private static int[] parseShape(String name, JsonNode node) {
        if (!node.isArray()) throw new TensorFormatException("tensor '" + name + "': shape is not a JSON array");
        if (node.size() > 8) throw new TensorFormatException("tensor '" + name + "': rank " + node.size() + " exceeds 8");
        int[] shape = new int[node.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = node.get(i);
            if (!d.canConvertToLong() || d.asLong() < 0 || d.asLong() > Integer.MAX_VALUE) {
                throw new TensorFormatException("tensor '" + name + "': shape entry " + d + " is not a non-negative integer");
            }
            shape[i] = (int) d.asLong();
        }
        if (Tensor.numel(shape) > Integer.MAX_VALUE - 8) {
            throw new TensorFormatException("tensor '" + name + "': shape " + node + " has too many elements");
        }
        return shape;
    }

    private static void checkNoOverlap(List<long[]> ranges, List<String> names) {
        Integer[] order = new Integer[ranges.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Long.compare(ranges.get(a)[0], ranges.get(b)[0]));
        for (int i = 1; i < order.length; i++) {
            long[] prev = ranges.get(order[i - 1]), cur = ranges.get(order[i]);
            if (cur[0] < prev[1] && cur[1] > cur[0]) {
                throw new TensorFormatException("tensors '" + names.get(order[i - 1]) + "' and '" + names.get(order[i])
                        + "' have overlapping data_offsets");
            }
        }
    }

    /** Writes F32 tensors back to back in map order, with string metadata. */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(path), 1 << 16)) {
            write(out, tensors, metadata);
        }
    }

    public static void write(OutputStream out, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var shape = t.putArray("shape");
            for (int d : e.getValue().shape()) shape.add(d);
            long bytes = 4L * e.getValue().size();
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        out.write(head.array());
        for (Tensor t : tensors.values()) LittleEndian.writeFloats(out, t.data());
    }
}
