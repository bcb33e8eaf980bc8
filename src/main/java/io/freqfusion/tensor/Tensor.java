package io.freqfusion.tensor;

import java.util.Arrays;

/**
 * A dense float32 tensor: a shape and a flat, row-major (C-contiguous) buffer.
 * The shape is copied and never changes; the buffer is shared, not copied, so that large
 * tensors move between the transports, the model and the backends without copies.
 */
public final class Tensor {
    private final int[] shape;
    private final float[] data;

    public Tensor(int[] shape, float[] data) {
        this.shape = shape.clone();
        long n = numel(this.shape);
        if (n != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + n
                    + " elements but the buffer has " + data.length);
        }
        this.data = data;
    }

    public static Tensor zeros(int... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " is too large");
        }
        return new Tensor(shape, new float[(int) n]);
    }

    /** Number of elements of a shape; -1 if any dimension is negative, Long.MAX_VALUE on overflow. */
    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) return -1;
            n = multiplyCapped(n, d);
        }
        return n;
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) return -1;
            n = multiplyCapped(n, d);
        }
        return n;
    }

    private static long multiplyCapped(long a, long b) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        return (hi != 0 || lo < 0) ? Long.MAX_VALUE : lo;
    }

    public int[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public int dim(int i) { return shape[i]; }
    public float[] data() { return data; }
    public int size() { return data.length; }

    public boolean hasShape(int... expected) { return Arrays.equals(shape, expected); }

    public String shapeString() { return Arrays.toString(shape); }

    @Override
    public String toString() { return "Tensor" + shapeString(); }
}
