package io.freqfusion.serve.rest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import io.freqfusion.serve.InferenceException;
import io.freqfusion.serve.InferenceException.Kind;
import io.freqfusion.serve.InferenceService.InputTensor;
import io.freqfusion.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The REST body codec of the Open Inference Protocol v2: a streaming JSON parser for inference requests (flat or
 * nested {@code data}), the binary tensor data extension (a JSON header of {@code Inference-Header-Content-Length}
 * bytes followed by the inputs' raw bytes in input order, each sized by {@code parameters.binary_data_size}), and
 * the response writer (JSON {@code data}, or raw outputs after the JSON header when binary output is requested).
 *
 * <p>Nothing is allocated from a length field before it is checked against the body actually received.
 */
public final class OipRestCodec {
    /**
     * Strict JSON: duplicate keys rejected, NaN / Infinity literals rejected (Jackson's default), nesting, number and
     * string lengths bounded (so hostile documents fail fast with a 400 rather than cost time or memory).
     */
    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).maxNumberLength(256)
                    .maxStringLength(1 << 16).maxNameLength(1 << 12).build())
            .build();
    private static final int MAX_DEPTH = 16;

    private OipRestCodec() {}

    /** A requested output: name and whether it should be binary (null: the request's default). */
    public record OutputRequest(String name, Boolean binary) {}

    /** A parsed inference request. */
    public record Request(String id, List<InputTensor> inputs, List<OutputRequest> outputs, boolean binaryOutputDefault) {}

    /**
     * An encoded response body: the JSON document (or, with binary outputs, the JSON header of {@code headerLength}
     * bytes) followed by the binary outputs' data, written as little-endian floats straight from the output tensors
     * when the body is sent. The binary part is never copied into one array of its own: at a 128² level of 256
     * channels one output is 16 MB, and a body array that size cost a copy, an equally large network buffer and, under
     * load, young-generation copies.
     */
    public static final class Encoded {
        private final byte[] json;
        private final List<float[]> binary;
        private final long length;

        Encoded(byte[] json, List<float[]> binary) {
            this.json = json;
            this.binary = binary;
            long n = json.length;
            for (float[] d : binary) n += 4L * d.length;
            this.length = n;
        }

        /** Bytes of the whole body (its Content-Length). */
        public long length() { return length; }

        /** Length of the JSON header when binary outputs follow it, -1 for a plain JSON body. */
        public int headerLength() { return binary.isEmpty() ? -1 : json.length; }

        public void writeTo(OutputStream out) throws IOException {
            out.write(json);
            for (float[] d : binary) io.freqfusion.tensor.LittleEndian.writeFloats(out, d);
        }
    }

    private static final class InputBuilder {
        String name, datatype;
        long[] shape;
        float[] values;
        int count;
        Long binarySize;
        boolean hasData;

        String label() { return name == null ? "input" : "input '" + name + "'"; }
    }

    /**
     * Parses a request body. {@code headerLength}: the Inference-Header-Content-Length header (null when absent: the
     * whole body is JSON). {@code maxElements}: limit on the elements of one JSON tensor.
     */
    public static Request parse(byte[] body, String headerLength, long maxElements) {
        int jsonLen = body.length;
        if (headerLength != null) {
            long h;
            try {
                h = Long.parseLong(headerLength.strip());
            } catch (NumberFormatException e) {
                throw InferenceException.invalid("Inference-Header-Content-Length '" + abbreviate(headerLength) + "' is not an integer");
            }
            if (h < 2 || h > body.length) {
                throw InferenceException.invalid("Inference-Header-Content-Length " + h + " is inconsistent with the body of " + body.length + " bytes");
            }
            jsonLen = (int) h;
        }
        if (jsonLen == 0) throw InferenceException.invalid("empty request body (expected an OIP v2 inference request)");
        String id = null;
        List<InputBuilder> inputs = null;
        List<OutputRequest> outputs = new ArrayList<>();
        boolean binaryDefault = false;
        try (JsonParser p = JSON.createParser(body, 0, jsonLen)) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw InferenceException.invalid("request body must be a JSON object");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken v = p.nextToken();
                switch (field) {
                    case "id" -> {
                        if (v == JsonToken.VALUE_NULL) break;
                        if (!v.isScalarValue()) throw InferenceException.invalid("'id' must be a string");
                        id = p.getText();
                    }
                    case "parameters" -> binaryDefault = parameters(p, "parameters", "binary_data_output", binaryDefault);
                    case "inputs" -> {
                        if (v != JsonToken.START_ARRAY) throw InferenceException.invalid("'inputs' must be an array");
                        inputs = new ArrayList<>();
                        while (p.nextToken() != JsonToken.END_ARRAY) inputs.add(input(p, inputs.size(), jsonLen, maxElements));
                    }
                    case "outputs" -> {
                        if (v == JsonToken.VALUE_NULL) break;
                        if (v != JsonToken.START_ARRAY) throw InferenceException.invalid("'outputs' must be an array");
                        while (p.nextToken() != JsonToken.END_ARRAY) outputs.add(output(p, outputs.size()));
                    }
                    default -> p.skipChildren();
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT) throw InferenceException.invalid("malformed JSON: expected a field name or '}'");
            JsonToken trailing = p.nextToken();
            if (trailing != null) throw InferenceException.invalid("malformed JSON: unexpected content after the request object");
        } catch (JsonProcessingException e) {
            throw InferenceException.invalid("malformed JSON: " + jsonMessage(e));
        } catch (IOException e) {
            throw InferenceException.invalid("unreadable request body: " + e.getMessage());
        } catch (InferenceException e) {
            throw e;
        } catch (RuntimeException e) { // whatever else a hostile document provokes in the parser is still the client's error
            throw InferenceException.invalid("malformed JSON: " + e.getClass().getSimpleName());
        }
        if (inputs == null || inputs.isEmpty()) throw InferenceException.invalid("the request has no 'inputs'");

        // Binary tensor data extension: the inputs' raw bytes follow the JSON header, in input order.
        int offset = jsonLen;
        List<InputTensor> out = new ArrayList<>(inputs.size());
        for (InputBuilder b : inputs) {
            if (b.binarySize != null) {
                if (b.hasData) throw InferenceException.invalid(b.label() + ": both 'data' and parameters.binary_data_size given");
                if (headerLength == null) {
                    throw InferenceException.invalid(b.label() + ": parameters.binary_data_size given but no Inference-Header-Content-Length header");
                }
                long size = b.binarySize;
                if (size < 0 || size > body.length - offset) {
                    throw InferenceException.invalid(b.label() + ": binary_data_size " + size + " exceeds the " + (body.length - offset)
                            + " bytes of binary data left in the body");
                }
                ByteBuffer raw = ByteBuffer.wrap(body, offset, (int) size).slice().order(ByteOrder.LITTLE_ENDIAN);
                offset += (int) size;
                out.add(new InputTensor(b.name, b.datatype, b.shape, null, raw));
            } else {
                if (!b.hasData) throw InferenceException.invalid(b.label() + ": no 'data' (and no parameters.binary_data_size)");
                float[] v = b.values.length == b.count ? b.values : Arrays.copyOf(b.values, b.count);
                out.add(new InputTensor(b.name, b.datatype, b.shape, v, null));
            }
        }
        if (offset != body.length) {
            throw InferenceException.invalid("the body has " + (body.length - offset) + " bytes beyond the JSON header and the inputs' binary_data_size"
                    + (headerLength == null ? " (binary data needs an Inference-Header-Content-Length header)" : ""));
        }
        return new Request(id, out, outputs, binaryDefault);
    }

    /** Jackson's message without the echo of the document, plus where. */
    private static String jsonMessage(JsonProcessingException e) {
        String m = String.valueOf(e.getOriginalMessage());
        if (m.contains("'NaN'") || m.contains("'Infinity'") || m.contains("'+Infinity'") || m.contains("'-Infinity'") || m.contains("'-INF'")
                || m.contains("'INF'")) {
            m = "NaN and Infinity literals are not JSON (values must be finite numbers)";
        }
        int nl = m.indexOf('\n');
        if (nl >= 0) m = m.substring(0, nl);
        if (m.length() > 200) m = m.substring(0, 200) + "...";
        var loc = e.getLocation();
        return loc == null || loc.getByteOffset() < 0 ? m : m + " (at byte " + loc.getByteOffset() + ")";
    }

    private static InputBuilder input(JsonParser p, int index, int bodyLen, long maxElements) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) throw InferenceException.invalid("inputs[" + index + "] must be an object");
        InputBuilder b = new InputBuilder();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken v = p.nextToken();
            switch (field) {
                case "name" -> {
                    if (v != JsonToken.VALUE_STRING) throw InferenceException.invalid("inputs[" + index + "].name must be a string");
                    if (p.getTextLength() > 256) throw InferenceException.invalid("inputs[" + index + "].name is longer than 256 characters");
                    b.name = p.getText();
                }
                case "datatype" -> {
                    if (v != JsonToken.VALUE_STRING) throw InferenceException.invalid(b.label() + ": datatype must be a string");
                    b.datatype = abbreviate(p.getText());
                }
                case "shape" -> {
                    if (b.shape != null) throw InferenceException.invalid(b.label() + ": shape given twice");
                    b.shape = shape(p, b);
                }
                case "parameters" -> {
                    if (v == JsonToken.VALUE_NULL) break;
                    if (v != JsonToken.START_OBJECT) throw InferenceException.invalid(b.label() + ": parameters must be an object");
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String k = p.currentName();
                        JsonToken pv = p.nextToken();
                        if (k.equals("binary_data_size")) {
                            if (pv != JsonToken.VALUE_NUMBER_INT) throw InferenceException.invalid(b.label() + ": binary_data_size must be an integer");
                            if (b.binarySize != null) throw InferenceException.invalid(b.label() + ": binary_data_size given twice");
                            try {
                                b.binarySize = p.getLongValue();
                            } catch (IOException e) {
                                throw InferenceException.invalid(b.label() + ": binary_data_size " + abbreviate(p.getText()) + " is out of range");
                            }
                        } else {
                            p.skipChildren();
                        }
                    }
                }
                case "data" -> data(p, b, bodyLen, maxElements);
                default -> p.skipChildren();
            }
        }
        if (b.name == null) throw InferenceException.invalid("inputs[" + index + "] has no name");
        if (b.datatype == null) throw InferenceException.invalid(b.label() + ": missing datatype");
        if (b.shape == null) throw InferenceException.invalid(b.label() + ": missing shape");
        return b;
    }

    private static long[] shape(JsonParser p, InputBuilder b) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) throw InferenceException.invalid(b.label() + ": shape must be an array of integers");
        long[] s = new long[8];
        int n = 0;
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (p.currentToken() != JsonToken.VALUE_NUMBER_INT) throw InferenceException.invalid(b.label() + ": shape must be an array of integers");
            if (n == s.length) throw InferenceException.invalid(b.label() + ": shape has more than 8 dimensions");
            try {
                s[n++] = p.getLongValue();
            } catch (IOException e) {
                throw InferenceException.invalid(b.label() + ": shape entry " + abbreviate(p.getText()) + " is out of range");
            }
        }
        return Arrays.copyOf(s, n);
    }

    /** Reads flat or nested numbers, row-major. Allocates from the shape only when the body can hold that many numbers. */
    private static void data(JsonParser p, InputBuilder b, int bodyLen, long maxElements) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) throw InferenceException.invalid(b.label() + ": data must be an array of numbers");
        if (b.hasData) throw InferenceException.invalid(b.label() + ": 'data' given twice");
        b.hasData = true;
        long expect = b.shape == null ? -1 : Tensor.numel(b.shape);
        long cap = Math.min(maxElements, (bodyLen + 1L) / 2); // a JSON number takes at least one byte plus a separator
        b.values = new float[(int) (expect >= 0 && expect <= cap ? Math.max(expect, 1) : Math.min(cap, 1024))];
        b.count = 0;
        int depth = 1;
        while (depth > 0) {
            JsonToken t = p.nextToken();
            if (t == null) throw InferenceException.invalid("malformed JSON: truncated data of " + b.label());
            switch (t) {
                case START_ARRAY -> {
                    if (++depth > MAX_DEPTH) throw InferenceException.invalid(b.label() + ": data nested deeper than " + MAX_DEPTH);
                }
                case END_ARRAY -> depth--;
                case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
                    if (b.count == b.values.length) {
                        if (b.count >= maxElements) {
                            throw new InferenceException(Kind.TOO_LARGE, b.label() + ": data has more than " + maxElements
                                    + " elements (freqfusion.limits.max-tensor-elements)");
                        }
                        b.values = Arrays.copyOf(b.values, (int) Math.min(Math.min(maxElements, Integer.MAX_VALUE - 8), Math.max(16L, 2L * b.count)));
                    }
                    b.values[b.count++] = p.getFloatValue();
                }
                default -> throw InferenceException.invalid(b.label() + ": data must hold only numbers, found " + describe(t, p));
            }
        }
    }

    private static String describe(JsonToken t, JsonParser p) throws IOException {
        return switch (t) {
            case VALUE_STRING -> "a string"; // never echo tensor content
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            case START_OBJECT -> "an object";
            default -> t.toString();
        };
    }

    private static String abbreviate(String s) { return s.length() > 20 ? s.substring(0, 20) + "..." : s; }

    private static OutputRequest output(JsonParser p, int index) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) throw InferenceException.invalid("outputs[" + index + "] must be an object");
        String name = null;
        Boolean binary = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken v = p.nextToken();
            switch (field) {
                case "name" -> {
                    if (v != JsonToken.VALUE_STRING) throw InferenceException.invalid("outputs[" + index + "].name must be a string");
                    if (p.getTextLength() > 256) throw InferenceException.invalid("outputs[" + index + "].name is longer than 256 characters");
                    name = p.getText();
                }
                case "parameters" -> binary = parameters(p, "outputs[" + index + "].parameters", "binary_data", binary);
                default -> p.skipChildren();
            }
        }
        if (name == null) throw InferenceException.invalid("outputs[" + index + "] has no name");
        return new OutputRequest(name, binary);
    }

    /** Reads a parameters object, returning the boolean {@code key} (or {@code dflt}); other parameters are allowed and ignored. */
    private static Boolean parameters(JsonParser p, String what, String key, Boolean dflt) throws IOException {
        if (p.currentToken() == JsonToken.VALUE_NULL) return dflt;
        if (p.currentToken() != JsonToken.START_OBJECT) throw InferenceException.invalid("'" + what + "' must be an object");
        Boolean result = dflt;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String k = p.currentName();
            JsonToken v = p.nextToken();
            if (k.equals(key)) {
                if (v != JsonToken.VALUE_TRUE && v != JsonToken.VALUE_FALSE) throw InferenceException.invalid(what + "." + key + " must be a boolean");
                result = v == JsonToken.VALUE_TRUE;
            } else {
                p.skipChildren();
            }
        }
        return result;
    }

    /**
     * Writes the response: outputs in {@code order}; those in {@code binary} as raw little-endian FP32 after the JSON
     * header (with parameters.binary_data_size), the others as JSON data.
     */
    public static Encoded encode(String model, String version, String id, Map<String, Tensor> outputs, List<String> order, java.util.Set<String> binary) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(estimate(outputs, binary));
        List<float[]> raw = new ArrayList<>();
        try (JsonGenerator g = JSON.createGenerator(buf)) {
            g.writeStartObject();
            g.writeStringField("model_name", model);
            g.writeStringField("model_version", version);
            if (id != null) g.writeStringField("id", id);
            g.writeArrayFieldStart("outputs");
            for (String name : order) {
                Tensor t = outputs.get(name);
                g.writeStartObject();
                g.writeStringField("name", name);
                g.writeStringField("datatype", "FP32");
                g.writeArrayFieldStart("shape");
                for (int d : t.shape()) g.writeNumber(d);
                g.writeEndArray();
                if (binary.contains(name)) {
                    g.writeObjectFieldStart("parameters");
                    g.writeNumberField("binary_data_size", 4L * t.size());
                    g.writeEndObject();
                    raw.add(t.data());
                } else {
                    g.writeArrayFieldStart("data");
                    for (float f : t.data()) g.writeNumber(f);
                    g.writeEndArray();
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return new Encoded(buf.toByteArray(), raw);
    }

    /** Initial size of the JSON part: the header alone when outputs are binary, ~12 bytes per value otherwise. */
    private static int estimate(Map<String, Tensor> outputs, java.util.Set<String> binary) {
        long n = 256;
        for (var e : outputs.entrySet()) n += (binary.contains(e.getKey()) ? 0L : 12L) * e.getValue().size() + 128;
        return (int) Math.min(n, Integer.MAX_VALUE - 16);
    }
}
