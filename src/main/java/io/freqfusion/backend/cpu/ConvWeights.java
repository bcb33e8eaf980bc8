package io.freqfusion.backend.cpu;

/**
 * A convolution's weights (co, ci, k, k) repacked for the CPU tiles, once per plan. Output channels are split into
 * blocks of 5, 4 or 1 (as many 5s as needed to leave a multiple of 4: 25 = 5 x 5, 9 = 5 + 4, 64 = 16 x 4); each
 * block's weights are interleaved per (input channel, tap), so that a tile reads one array front to back:
 * packed[offset(b) + i size(b) + j] = weight[o(b) + j][i], with i = c k^2 + tap. Read linearly, the loads need no
 * per-iteration bounds checks and the tile's inner loop is one flat loop over ci k^2 steps.
 */
public final class ConvWeights {
    /** 3x3 weights with at least this many output channels also get their Winograd F(2x2, 3x3) form. */
    static final int WINOGRAD_MIN_OUTPUTS = 24;

    final int co, ci, k;
    final float[] bias, packed;
    /**
     * For 3x3 weights with at least {@link #WINOGRAD_MIN_OUTPUTS} outputs: the Winograd F(2x2, 3x3) transform
     * U = G g G^T of every (output, input) filter, one 1x1 "convolution" (co x ci, no bias) per transform position
     * (16); null otherwise. Winograd's transforms are paid per input channel and tile, its savings per output channel:
     * measured at W2 shapes (1 thread) it loses at 9 and 16 outputs, gains ~10% at 25 and ~30% at 64.
     */
    final ConvWeights[] winograd;
    /** Per block: first output channel, size (5, 4 or 1) and offset into {@link #packed}. */
    final int[] blockStart, blockSize, blockOffset;

    private ConvWeights(float[] weight, float[] bias, int co, int ci, int k) {
        if (weight.length != co * ci * k * k) {
            throw new IllegalArgumentException("weight has " + weight.length + " floats, expected " + co + "x" + ci + "x" + k + "x" + k);
        }
        if (bias.length != co) throw new IllegalArgumentException("bias has " + bias.length + " floats, expected " + co);
        this.co = co;
        this.ci = ci;
        this.k = k;
        this.bias = bias;
        int n = ci * k * k, blocks = 0;
        int[] start = new int[co], size = new int[co], offset = new int[co];
        int o = 0;
        while (o < co) {
            int s = (co - o) % 4 != 0 && co - o >= 5 ? 5 : co - o >= 4 ? 4 : 1;
            start[blocks] = o;
            size[blocks] = s;
            offset[blocks] = o * n;
            blocks++;
            o += s;
        }
        blockStart = java.util.Arrays.copyOf(start, blocks);
        blockSize = java.util.Arrays.copyOf(size, blocks);
        blockOffset = java.util.Arrays.copyOf(offset, blocks);
        packed = new float[co * n];
        for (int b = 0; b < blocks; b++) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < blockSize[b]; j++) packed[blockOffset[b] + i * blockSize[b] + j] = weight[(blockStart[b] + j) * n + i];
            }
        }
        winograd = k == 3 && co >= WINOGRAD_MIN_OUTPUTS ? winogradTransform(weight, co, ci) : null;
    }

    /** G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]; U = G g G^T per filter, in double, laid out per position. */
    private static ConvWeights[] winogradTransform(float[] weight, int co, int ci) {
        double[][] G = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
        float[][] u = new float[16][co * ci];
        for (int o = 0; o < co; o++) {
            for (int c = 0; c < ci; c++) {
                int g0 = (o * ci + c) * 9;
                for (int i = 0; i < 4; i++) {
                    for (int j = 0; j < 4; j++) {
                        double acc = 0;
                        for (int a = 0; a < 3; a++) {
                            for (int b = 0; b < 3; b++) acc += G[i][a] * weight[g0 + a * 3 + b] * G[j][b];
                        }
                        u[i * 4 + j][o * ci + c] = (float) acc;
                    }
                }
            }
        }
        ConvWeights[] out = new ConvWeights[16];
        for (int pos = 0; pos < 16; pos++) out[pos] = new ConvWeights(u[pos], new float[co], co, ci, 1);
        return out;
    }

    /** Packs weight (co, ci, k, k) and bias (co); bias is kept, not copied. */
    public static ConvWeights pack(float[] weight, float[] bias, int co, int ci, int k) {
        return new ConvWeights(weight, bias, co, ci, k);
    }
}
