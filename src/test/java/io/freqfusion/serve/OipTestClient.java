package io.freqfusion.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.freqfusion.tensor.Tensor;
import io.restassured.response.Response;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** A minimal OIP v2 REST client for the tests, written from the protocol (not from the server's code). */
public final class OipTestClient {

    /** A plaintext channel to the test's gRPC server (its test port), accepting answers up to 64 MiB. */
    public static io.grpc.ManagedChannel grpcChannel() {
        int port = org.eclipse.microprofile.config.ConfigProvider.getConfig().getValue("quarkus.grpc.server.test-port", Integer.class);
        return io.grpc.ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().maxInboundMessageSize(64 << 20).build();
    }
    static final ObjectMapper JSON = new ObjectMapper();

    private OipTestClient() {}

    /** Polls {@code condition} every 10 ms until it holds; fails naming {@code what} after {@code limitMillis}. */
    public static void await(String what, long limitMillis, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + limitMillis * 1_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("timed out after " + limitMillis + " ms waiting: " + what);
            Thread.sleep(10);
        }
    }

    /** Waits until none of the models is LOADING (max 3 minutes each). */
    public static void awaitLoaded(String... models) {
        try {
            for (String m : models) {
                await("model " + m + " loaded", 180_000, () -> {
                    String state = given().get("/v2/models/" + m).then().extract().path("state");
                    return state != null && !state.equals("LOADING");
                });
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
    }

    /** JSON request body: inputs with flat data, optional outputs. */
    public static ObjectNode jsonRequest(String id, Map<String, Tensor> inputs, List<String> outputs) {
        ObjectNode req = JSON.createObjectNode();
        if (id != null) req.put("id", id);
        ArrayNode in = req.putArray("inputs");
        inputs.forEach((name, t) -> {
            ObjectNode o = in.addObject();
            o.put("name", name);
            ArrayNode shape = o.putArray("shape");
            for (int d : t.shape()) shape.add(d);
            o.put("datatype", "FP32");
            ArrayNode data = o.putArray("data");
            for (float f : t.data()) data.add(f);
        });
        if (outputs != null) {
            ArrayNode out = req.putArray("outputs");
            for (String o : outputs) out.addObject().put("name", o);
        }
        return req;
    }

    public static Response postJson(String model, String body) {
        return given().contentType("application/json").body(body).post("/v2/models/" + model + "/infer");
    }

    /** Outputs of a JSON response (data or binary sections). */
    public static Map<String, Tensor> outputs(Response r) {
        byte[] body = r.asByteArray();
        String hl = r.getHeader("Inference-Header-Content-Length");
        int jsonLen = hl == null ? body.length : Integer.parseInt(hl);
        try {
            JsonNode root = JSON.readTree(new String(body, 0, jsonLen, StandardCharsets.UTF_8));
            Map<String, Tensor> out = new LinkedHashMap<>();
            int offset = jsonLen;
            for (JsonNode o : root.get("outputs")) {
                assertEquals("FP32", o.get("datatype").asText());
                int[] shape = new int[o.get("shape").size()];
                for (int i = 0; i < shape.length; i++) shape[i] = o.get("shape").get(i).asInt();
                float[] data = new float[(int) Tensor.numel(shape)];
                JsonNode size = o.path("parameters").path("binary_data_size");
                if (!size.isMissingNode()) {
                    assertEquals(4L * data.length, size.asLong(), "binary_data_size of " + o.get("name"));
                    ByteBuffer.wrap(body, offset, data.length * 4).slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
                    offset += data.length * 4;
                } else {
                    JsonNode d = o.get("data");
                    assertEquals(data.length, d.size(), "data length of " + o.get("name"));
                    for (int i = 0; i < data.length; i++) data[i] = (float) d.get(i).asDouble();
                }
                out.put(o.get("name").asText(), new Tensor(shape, data));
            }
            assertEquals(body.length, offset, "binary sections fill the body");
            return out;
        } catch (java.io.IOException e) {
            throw new RuntimeException(e);
        }
    }

    /** Binary-extension body: JSON header (inputs with binary_data_size) + raw little-endian data; returns [header length, body]. */
    public static Object[] binaryRequest(Map<String, Tensor> inputs, String dtype, boolean binaryOutputs) {
        ObjectNode req = JSON.createObjectNode();
        ArrayNode in = req.putArray("inputs");
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        inputs.forEach((name, t) -> {
            byte[] bytes = encode(t.data(), dtype);
            ObjectNode o = in.addObject();
            o.put("name", name);
            ArrayNode shape = o.putArray("shape");
            for (int d : t.shape()) shape.add(d);
            o.put("datatype", dtype);
            o.putObject("parameters").put("binary_data_size", bytes.length);
            raw.writeBytes(bytes);
        });
        if (binaryOutputs) req.putObject("parameters").put("binary_data_output", true);
        byte[] header = req.toString().getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(header);
        body.writeBytes(raw.toByteArray());
        return new Object[] {header.length, body.toByteArray()};
    }

    /**
     * Sends a {@link #binaryRequest} to {@code infer} on a connection of its own (a raw socket, so that a test controls
     * reading and closing) and leaves the answer unread.
     */
    public static java.net.Socket sendRaw(java.net.URL infer, Object[] binaryRequest) throws java.io.IOException {
        byte[] body = (byte[]) binaryRequest[1];
        java.net.Socket s = new java.net.Socket(infer.getHost(), infer.getPort());
        java.io.OutputStream out = s.getOutputStream();
        out.write(rawHead(infer, (Integer) binaryRequest[0], body.length, ""));
        out.write(body);
        out.flush();
        return s;
    }

    /** The head of a binary inference request to {@code infer}; {@code extraHeaders}: more header lines, each ending in CRLF. */
    public static byte[] rawHead(java.net.URL infer, int headerLength, int bodyLength, String extraHeaders) {
        return ("POST " + infer.getPath() + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
                + "Inference-Header-Content-Length: " + headerLength + "\r\nContent-Length: " + bodyLength + "\r\n"
                + extraHeaders + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** Reads a response head (status line and headers, up to the empty line) from a raw connection. */
    public static String readHead(java.io.InputStream in) throws java.io.IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;
        while (state < 4) {
            int b = in.read();
            if (b < 0) throw new java.io.IOException("connection closed in the response head: " + head);
            head.write(b);
            state = (b == '\r' && (state == 0 || state == 2)) || (b == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
        }
        return head.toString(StandardCharsets.US_ASCII);
    }

    public static Response postBinary(String model, int headerLength, byte[] body) {
        return given().contentType("application/octet-stream").header("Inference-Header-Content-Length", headerLength)
                .body(body).post("/v2/models/" + model + "/infer");
    }

    public static byte[] encode(float[] d, String dtype) {
        switch (dtype) {
            case "FP32" -> {
                ByteBuffer b = ByteBuffer.allocate(4 * d.length).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(d);
                return b.array();
            }
            case "FP16" -> {
                ByteBuffer b = ByteBuffer.allocate(2 * d.length).order(ByteOrder.LITTLE_ENDIAN);
                for (float f : d) b.putShort(Float.floatToFloat16(f));
                return b.array();
            }
            case "BF16" -> {
                ByteBuffer b = ByteBuffer.allocate(2 * d.length).order(ByteOrder.LITTLE_ENDIAN);
                for (float f : d) b.putShort((short) (Float.floatToRawIntBits(f) >>> 16));
                return b.array();
            }
            default -> throw new IllegalArgumentException(dtype);
        }
    }

    /** The values a server decodes from {@link #encode} (FP16 / BF16 rounding). */
    public static Tensor rounded(Tensor t, String dtype) {
        float[] d = t.data().clone();
        for (int i = 0; i < d.length; i++) {
            d[i] = switch (dtype) {
                case "FP16" -> Float.float16ToFloat(Float.floatToFloat16(d[i]));
                case "BF16" -> Float.intBitsToFloat(Float.floatToRawIntBits(d[i]) & 0xffff0000);
                default -> d[i];
            };
        }
        return new Tensor(t.shape(), d);
    }
}
