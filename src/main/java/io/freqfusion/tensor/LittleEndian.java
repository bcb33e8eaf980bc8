package io.freqfusion.tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Writes float32 data as raw little-endian bytes (safetensors, .npy, the OIP binary extension), in 64 KiB chunks. */
public final class LittleEndian {
    private LittleEndian() {}

    public static void writeFloats(OutputStream out, float[] data) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < data.length; ) {
            int n = Math.min(data.length - i, chunk.capacity() / 4);
            chunk.clear();
            chunk.asFloatBuffer().put(data, i, n);
            out.write(chunk.array(), 0, n * 4);
            i += n;
        }
    }
}
