package io.freqfusion.backend.cpu;

/**
 * A convolution's weights (co, ci, k, k) repacked for the CPU tiles, once per plan. Output channels are split into
 * blocks of 4, the last 1 to 3 into blocks of 1 (25 = 6 x 4 + 1, 9 = 2 x 4 + 1). A 5-output tile (10 accumulators)
 * measured 0.45 ns per vector FMA against 0.2 for the 4-output one (C2 keeps fewer of its vectors in registers):
 * 25 outputs as 5 x 5 ran 1.25x, 9 as 5 + 4 1.5x the time of 4s and 1s. Each
 * block's weights are interleaved per (input channel, tap), so that a tile reads one array front to back:
 * packed[offset(b) + i size(b) + j] = weight[o(b) + j][i], with i = c k^2 + tap. Read linearly, the loads need no
 * per-iteration bounds checks and the tile's inner loop is one flat loop over ci k^2 steps.
 */
public final class ConvWeights {
    final int co, ci, k;
    final float[] bias, packed;
    /**
     * For 3x3 weights: the Winograd F(4x2, 3x3) form (VectorKernels#convWinograd), one 1x1 "convolution" (co x ci,
     * no bias) per transform position (24); null otherwise. Used for every output count (E_H's 9 included: faster than
     * the direct convolution in every measurement).
     */
    final ConvWeights[] winograd;
    /** Per block: first output channel, size (4 or 1) and offset into {@link #packed}. */
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
            int s = co - o >= 4 ? 4 : 1;
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
        winograd = k == 3 ? winogradTransform(weight, co, ci) : null;
    }

    /**
     * U[i][j] = (G4 g G2^T)[i][j] per filter with G4 = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
     * 1/24 -1/12 1/6; 0 0 1] (F(4, 3) down the columns) and G2 = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] (F(2, 3)
     * along the rows), in double: per position 4 i + j one 1x1 "convolution" of co outputs over ci inputs.
     */
    private static ConvWeights[] winogradTransform(float[] weight, int co, int ci) {
        double[][] g4 = {{1 / 4d, 0, 0}, {-1 / 6d, -1 / 6d, -1 / 6d}, {-1 / 6d, 1 / 6d, -1 / 6d},
                {1 / 24d, 1 / 12d, 1 / 6d}, {1 / 24d, -1 / 12d, 1 / 6d}, {0, 0, 1}};
        double[][] g2 = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
        float[][] u = new float[24][co * ci];
        for (int o = 0; o < co; o++) {
            for (int c = 0; c < ci; c++) {
                int g0 = (o * ci + c) * 9;
                for (int i = 0; i < 6; i++) {
                    for (int j = 0; j < 4; j++) {
                        double acc = 0;
                        for (int ky = 0; ky < 3; ky++) {
                            for (int kx = 0; kx < 3; kx++) acc += g4[i][ky] * weight[g0 + ky * 3 + kx] * g2[j][kx];
                        }
                        u[4 * i + j][o * ci + c] = (float) acc;
                    }
                }
            }
        }
        ConvWeights[] out = new ConvWeights[24];
        for (int pos = 0; pos < 24; pos++) out[pos] = new ConvWeights(u[pos], new float[co], co, ci, 1);
        return out;
    }

    /** Packs weight (co, ci, k, k) and bias (co); bias is kept, not copied. */
    public static ConvWeights pack(float[] weight, float[] bias, int co, int ci, int k) {
        return new ConvWeights(weight, bias, co, ci, k);
    }
}
