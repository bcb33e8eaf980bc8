package io.freqfusion.tensor;

import java.nio.ByteBuffer;

/** Element types accepted on input. Everything is computed in float32; narrower types are widened exactly. */
public enum DType {
    F32(4), F16(2), BF16(2);

    public final int bytes;

    DType(int bytes) { this.bytes = bytes; }

    /** Parses a safetensors / OIP dtype name (F32, FP32, F16, FP16, BF16); null if unsupported. */
    public static DType parse(String name) {
        if (name == null) return null;
        return switch (name.toUpperCase(java.util.Locale.ROOT)) {
            case "F32", "FP32", "FLOAT32" -> F32;
            case "F16", "FP16", "FLOAT16" -> F16;
            case "BF16", "BFLOAT16" -> BF16;
            default -> null;
        };
    }

    /** Reads {@code out.length} little-endian elements of this type starting at the buffer's position. */
    public void decode(ByteBuffer src, float[] out, int outOffset, int count) {
        ByteBuffer le = src.slice().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32 -> le.asFloatBuffer().get(out, outOffset, count);
            case F16 -> {
                for (int i = 0; i < count; i++) out[outOffset + i] = Float.float16ToFloat(le.getShort(2 * i));
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) out[outOffset + i] = Float.intBitsToFloat((le.getShort(2 * i) & 0xffff) << 16);
            }
        }
    }
}
