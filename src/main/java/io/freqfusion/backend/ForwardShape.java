package io.freqfusion.backend;

/** The input geometry a forward is prepared for: batch, hr size (H, W) and lr size (h, w). */
public record ForwardShape(int batch, int hrHeight, int hrWidth, int lrHeight, int lrWidth) {
    public ForwardShape {
        if (batch < 1 || hrHeight < 1 || hrWidth < 1 || lrHeight < 1 || lrWidth < 1) {
            throw new IllegalArgumentException("non-positive dimension in " + this);
        }
    }

    public int hrPixels() { return hrHeight * hrWidth; }
    public int lrPixels() { return lrHeight * lrWidth; }

    public static ForwardShape of(int[] hrShape, int[] lrShape) {
        return new ForwardShape(hrShape[0], hrShape[2], hrShape[3], lrShape[2], lrShape[3]);
    }
}
