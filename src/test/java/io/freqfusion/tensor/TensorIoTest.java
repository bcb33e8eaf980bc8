package io.freqfusion.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class TensorIoTest {

    private static Tensor ramp(int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.size(); i++) t.data()[i] = i * 0.5f - 3;
        return t;
    }

    @Test
    void safetensorsRoundTrip(@TempDir Path dir) throws Exception {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("a", ramp(1, 3, 2, 2));
        m.put("b.weight", ramp(5));
        m.put("empty", Tensor.zeros(0, 4));
        Path f = dir.resolve("x.safetensors");
        SafeTensors.write(f, m, Map.of("module_kwargs", "{\"x\": 1}"));
        assertEquals(0, (Files.size(f) - 8 - ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN).getLong(0)) % 4);
        SafeTensors.Contents c = SafeTensors.read(f);
        assertEquals("{\"x\": 1}", c.metadata().get("module_kwargs"));
        assertEquals(m.keySet(), c.tensors().keySet());
        for (String k : m.keySet()) {
            assertArrayEquals(m.get(k).shape(), c.tensors().get(k).shape());
            assertArrayEquals(m.get(k).data(), c.tensors().get(k).data());
        }
    }

    /** Builds a safetensors buffer from a raw header string and data bytes. */
    static ByteBuffer file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.flip();
    }

    @Test
    void halfAndBfloat16AreWidened() {
        ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        data.putShort(Float.floatToFloat16(1.5f)).putShort(Float.floatToFloat16(-2f));
        data.putShort((short) (Float.floatToIntBits(3.25f) >>> 16)).putShort((short) (Float.floatToIntBits(-0.5f) >>> 16));
        String header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
        SafeTensors.Contents c = SafeTensors.read(file(header, data.array()));
        assertArrayEquals(new float[] {1.5f, -2f}, c.tensors().get("h").data());
        assertArrayEquals(new float[] {3.25f, -0.5f}, c.tensors().get("b").data());
    }

    private static String err(ByteBuffer b) {
        return assertThrows(TensorFormatException.class, () -> SafeTensors.read(b)).getMessage();
    }

    @Test
    void malformedSafetensorsAreRejectedWithTheReason() {
        byte[] d8 = new byte[8];
        assertTrue(err(ByteBuffer.wrap(new byte[5])).contains("truncated"));
        ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).putLong(0).flip();
        assertTrue(err(huge).contains("header length"));
        ByteBuffer longer = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(100).putLong(0).flip();
        assertTrue(err(longer).contains("exceeds"));
        assertTrue(err(file("{not json", d8)).contains("not valid JSON"));
        assertTrue(err(file("[1,2]", d8)).contains("not a JSON object"));
        assertTrue(err(file("{\"t\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", d8)).contains("unsupported dtype I64"));
        assertTrue(err(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d8)).contains("needs 12 bytes"));
        assertTrue(err(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d8)).contains("outside the data section"));
        assertTrue(err(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", d8)).contains("not a non-negative integer"));
        assertTrue(err(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", d8)).contains("two integers"));
        String overlap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        assertTrue(err(file(overlap, d8)).contains("overlapping"));
        assertTrue(err(file("{\"__metadata__\":{\"k\":1}}", d8)).contains("not a string"));
        assertTrue(err(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536],\"data_offsets\":[0,4]}}", d8)).contains("too many elements"));
    }

    @Test
    void npyRoundTripAndNumpyHeader(@TempDir Path dir) throws Exception {
        Tensor t = ramp(2, 3, 4);
        Path f = dir.resolve("t.npy");
        Npy.write(f, t);
        byte[] bytes = Files.readAllBytes(f);
        assertEquals(0, (10 + (bytes[8] & 0xff | (bytes[9] & 0xff) << 8)) % 64, "header padded to 64 bytes like numpy");
        assertTrue(new String(bytes, 10, 80, StandardCharsets.ISO_8859_1).startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"));
        Tensor back = Npy.read(f);
        assertArrayEquals(t.shape(), back.shape());
        assertArrayEquals(t.data(), back.data());
        Tensor v = ramp(3);
        Npy.write(f, v);
        assertArrayEquals(new int[] {3}, Npy.read(f).shape());
    }

    private static byte[] npy(String dict, int dataBytes) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        byte[] h = (dict + "\n").getBytes(StandardCharsets.ISO_8859_1);
        o.write(h.length & 0xff);
        o.write(h.length >> 8);
        o.writeBytes(h);
        o.writeBytes(new byte[dataBytes]);
        return o.toByteArray();
    }

    @Test
    void malformedNpyIsRejected() {
        assertTrue(assertThrows(TensorFormatException.class, () -> Npy.read(ByteBuffer.wrap("hello world!".getBytes()))).getMessage().contains("magic"));
        assertTrue(assertThrows(TensorFormatException.class, () -> Npy.read(ByteBuffer.wrap(npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 16)))).getMessage().contains("<i8"));
        assertTrue(assertThrows(TensorFormatException.class, () -> Npy.read(ByteBuffer.wrap(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16)))).getMessage().contains("Fortran"));
        assertTrue(assertThrows(TensorFormatException.class, () -> Npy.read(ByteBuffer.wrap(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8)))).getMessage().contains("needs 12"));
        Tensor half = Npy.read(ByteBuffer.wrap(npy("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", 2)));
        assertArrayEquals(new float[] {0f}, half.data());
    }
}
