package io.freqfusion.serve.rest;

import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The gate's request-body buffer: exact arrays for declared lengths, growth for chunked bodies, the size limit. */
class BodyBufferTest {
    private static Buffer bytes(int from, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (from + i);
        return Buffer.buffer(b);
    }

    @Test
    void declaredLengthFillsOneExactArray() {
        HttpGate.BodyBuffer body = new HttpGate.BodyBuffer(10, 100);
        assertTrue(body.append(bytes(0, 4)));
        assertTrue(body.append(bytes(4, 6)));
        byte[] got = body.bytes();
        assertArrayEquals(bytes(0, 10).getBytes(), got);
        assertSame(got, body.bytes(), "no copy when the declared length was received");
    }

    @Test
    void chunkedBodyGrowsUpToTheLimit() {
        HttpGate.BodyBuffer body = new HttpGate.BodyBuffer(-1, 200_000);
        for (int i = 0; i < 3; i++) assertTrue(body.append(bytes(i * 50_000, 50_000)));
        assertArrayEquals(bytes(0, 150_000).getBytes(), body.bytes());
        assertTrue(body.append(bytes(150_000, 50_000)), "exactly the limit is accepted");
        assertFalse(body.append(bytes(0, 1)), "one byte over the limit is refused");
        assertArrayEquals(bytes(0, 200_000).getBytes(), body.bytes(), "a refused buffer is not appended");
    }

    @Test
    void aFirstChunkOverTheLimitIsRefused() {
        HttpGate.BodyBuffer body = new HttpGate.BodyBuffer(-1, 10);
        assertFalse(body.append(bytes(0, 11)));
    }
}
