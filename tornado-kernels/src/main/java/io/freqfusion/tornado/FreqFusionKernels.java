package io.freqfusion.tornado;

import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * The FreqFusion primitives as TornadoVM kernels (JIT-compiled to OpenCL C / PTX). Every tensor is a flat NCHW
 * {@link FloatArray}; every kernel is one {@code @Parallel} loop over its output elements (batch folded in), with the
 * index math of the scalar reference {@code io.freqfusion.backend.cpu.CpuKernels}. Kernel bodies use only what
 * TornadoVM compiles: int/float arithmetic, {@link TornadoMath}, FloatArray get/set, no allocation, no exceptions.
 *
 * <p>Sizes are passed as scalars (kernel arguments); {@code total} is always the number of output elements.
 * Spec references are to {@code shared/spec/FREQFUSION.md}.
 */
public final class FreqFusionKernels {
    private FreqFusionKernels() {}

    // ------------------------------------------------------------------ convolutions (spec 3: compressors, encoders, offset convs)

    /**
     * 1x1 convolution with bias (the channel compressors HC, LC; spec 3). x: (B, ci, n), w: (co, ci), bias: (co),
     * out: (B, co, n); total = B * co * n.
     */
    public static void conv1x1(FloatArray x, FloatArray w, FloatArray bias, FloatArray out, int ci, int co, int n, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int p = i % n;
            int t = i / n;
            int o = t % co;
            int b = t / co;
            float acc = bias.get(o);
            int xBase = b * ci * n + p;
            int wBase = o * ci;
            for (int c = 0; c < ci; c++) {
                acc += w.get(wBase + c) * x.get(xBase + c * n);
            }
            out.set(i, acc);
        }
    }

    /**
     * 1x1 convolution, four output channels per work item (co % 4 == 0): every input value is loaded once for four
     * accumulators (the compressors are the largest per-pixel loops of the forward, spec 9). Same layout as
     * {@link #conv1x1}; total = B * (co / 4) * n.
     */
    public static void conv1x1x4(FloatArray x, FloatArray w, FloatArray bias, FloatArray out, int ci, int co, int n, int total) {
        int cq = co / 4;
        for (@Parallel int i = 0; i < total; i++) {
            int p = i % n;
            int t = i / n;
            int o = (t % cq) * 4;
            int b = t / cq;
            float a0 = bias.get(o);
            float a1 = bias.get(o + 1);
            float a2 = bias.get(o + 2);
            float a3 = bias.get(o + 3);
            int xBase = b * ci * n + p;
            int w0 = o * ci;
            for (int c = 0; c < ci; c++) {
                float v = x.get(xBase + c * n);
                a0 += w.get(w0 + c) * v;
                a1 += w.get(w0 + ci + c) * v;
                a2 += w.get(w0 + 2 * ci + c) * v;
                a3 += w.get(w0 + 3 * ci + c) * v;
            }
            int oBase = (b * co + o) * n + p;
            out.set(oBase, a0);
            out.set(oBase + n, a1);
            out.set(oBase + 2 * n, a2);
            out.set(oBase + 3 * n, a3);
        }
    }

    /**
     * k x k cross-correlation with bias, zero padding, stride 1, dilation dil (PyTorch Conv2d; the content encoders
     * E_L, E_H and the offset generator's convs, spec 3 and 6). x: (B, ci, h, w), weight: (co, ci, k, k),
     * out: (B, co, ho, wo) with ho = h + 2 pad - dil (k - 1); total = B * co * ho * wo.
     */
    public static void conv2d(FloatArray x, FloatArray weight, FloatArray bias, FloatArray out,
                              int ci, int h, int w, int co, int k, int dil, int pad, int ho, int wo, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int ox = i % wo;
            int t = i / wo;
            int oy = t % ho;
            t = t / ho;
            int o = t % co;
            int b = t / co;
            float acc = bias.get(o);
            for (int c = 0; c < ci; c++) {
                int xPlane = (b * ci + c) * h * w;
                int wPlane = (o * ci + c) * k * k;
                for (int ky = 0; ky < k; ky++) {
                    int iy = oy - pad + ky * dil;
                    if (iy >= 0 && iy < h) {
                        for (int kx = 0; kx < k; kx++) {
                            int ix = ox - pad + kx * dil;
                            if (ix >= 0 && ix < w) {
                                acc += weight.get(wPlane + ky * k + kx) * x.get(xPlane + iy * w + ix);
                            }
                        }
                    }
                }
            }
            out.set(i, acc);
        }
    }

    // ------------------------------------------------------------------ kernel normaliser (spec 2.1, 2.2)

    /**
     * q_t = exp(z_t) hw_t / sum_u exp(z_u) hw_u over the taps of each pixel (softmax, Hamming weighting,
     * renormalisation; spec 2.1 with the window of 2.2). z, out: (B, taps, n) with n = H * W; hamming: taps entries
     * (all ones when hamming_window is off). Max-subtracted for range safety (the quotient is unchanged).
     * total = B * n (one work item per pixel).
     */
    public static void normalise(FloatArray z, FloatArray hamming, FloatArray out, int taps, int n, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int p = i % n;
            int b = i / n;
            int base = b * taps * n + p;
            float m = z.get(base);
            for (int t = 1; t < taps; t++) {
                m = TornadoMath.max(m, z.get(base + t * n));
            }
            float s = 0f;
            for (int t = 0; t < taps; t++) {
                s += TornadoMath.exp(z.get(base + t * n) - m) * hamming.get(t);
            }
            float inv = 1f / s;
            for (int t = 0; t < taps; t++) {
                out.set(base + t * n, TornadoMath.exp(z.get(base + t * n) - m) * hamming.get(t) * inv);
            }
        }
    }

    // ------------------------------------------------------------------ CARAFE (spec 2.3, mmcv semantics)

    /**
     * CARAFE(x, K, k, s), mmcv semantics (spec 2.3): out[b, c, Y, X] = sum_{ky, kx} K[b, ky k + kx, Y, X]
     * x[b, c, Y/s + ky - r, X/s + kx - r]; taps outside the image are dropped, no renormalisation. x: (B, C, h, w),
     * kernel: (B, k^2, s h, s w), out: (B, C, s h, s w); total = B * C * s h * s w. Works for s = 1 and s = 2.
     */
    public static void carafe(FloatArray x, FloatArray kernel, FloatArray out, int C, int h, int w, int k, int s, int total) {
        int ho = s * h;
        int wo = s * w;
        int r = (k - 1) / 2;
        int k2 = k * k;
        for (@Parallel int i = 0; i < total; i++) {
            int X = i % wo;
            int t = i / wo;
            int Y = t % ho;
            t = t / ho;
            int c = t % C;
            int b = t / C;
            out.set(i, carafeAt(x, kernel, b, c, X, Y, C, h, w, k, k2, s, r, ho, wo));
        }
    }

    /**
     * out = selfScale * self + carafeScale * CARAFE(x, K, k, s) (spec 2.3 with the residual combinations of 4(a),
     * 4(b), 4(c), 4(d): P_h' = 2 P_h - L, Z = Z_hr + CARAFE(Z_lr), hr_out = (2|1) X_h - L). self and out: (B, C, s h, s w).
     */
    public static void carafeCombine(FloatArray x, FloatArray kernel, FloatArray self, FloatArray out, int C, int h, int w, int k, int s,
                                     float selfScale, float carafeScale, int total) {
        int ho = s * h;
        int wo = s * w;
        int r = (k - 1) / 2;
        int k2 = k * k;
        for (@Parallel int i = 0; i < total; i++) {
            int X = i % wo;
            int t = i / wo;
            int Y = t % ho;
            t = t / ho;
            int c = t % C;
            int b = t / C;
            out.set(i, selfScale * self.get(i) + carafeScale * carafeAt(x, kernel, b, c, X, Y, C, h, w, k, k2, s, r, ho, wo));
        }
    }

    /** One CARAFE output value (inlined into the kernels above by TornadoVM's compiler). Row-major (ky, kx) tap order as mmcv. */
    private static float carafeAt(FloatArray x, FloatArray kernel, int b, int c, int X, int Y, int C, int h, int w,
                                  int k, int k2, int s, int r, int ho, int wo) {
        int sy = Y / s;
        int sx = X / s;
        int kBase = b * k2 * ho * wo + Y * wo + X;
        int xPlane = (b * C + c) * h * w;
        float acc = 0f;
        for (int ky = 0; ky < k; ky++) {
            int iy = sy + ky - r;
            if (iy >= 0 && iy < h) {
                for (int kx = 0; kx < k; kx++) {
                    int ix = sx + kx - r;
                    if (ix >= 0 && ix < w) {
                        acc += kernel.get(kBase + (ky * k + kx) * ho * wo) * x.get(xPlane + iy * w + ix);
                    }
                }
            }
        }
        return acc;
    }

    // ------------------------------------------------------------------ resizes (spec 2.4, 2.5)

    /**
     * PyTorch legacy nearest resize (spec 2.4): out[Y, X] = x[min(floor(Y sy), h - 1), min(floor(X sx), w - 1)] with
     * sy = h / H, sx = w / W computed in float32 on the host. x: (planes, h, w), out: (planes, H, W); total = planes H W.
     */
    public static void nearest(FloatArray x, FloatArray out, int h, int w, int H, int W, float sy, float sx, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int X = i % W;
            int t = i / W;
            int Y = t % H;
            int plane = t / H;
            int iy = TornadoMath.min((int) TornadoMath.floor(Y * sy), h - 1);
            int ix = TornadoMath.min((int) TornadoMath.floor(X * sx), w - 1);
            out.set(i, x.get(plane * h * w + iy * w + ix));
        }
    }

    /** out = nearest(x) + add (spec 5.1: Z = E(P_h) + NearestUp(E(P_l)); 5.2: P_x = NearestUp(P_l) + P_h). */
    public static void nearestAdd(FloatArray x, FloatArray add, FloatArray out, int h, int w, int H, int W, float sy, float sx, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int X = i % W;
            int t = i / W;
            int Y = t % H;
            int plane = t / H;
            int iy = TornadoMath.min((int) TornadoMath.floor(Y * sy), h - 1);
            int ix = TornadoMath.min((int) TornadoMath.floor(X * sx), w - 1);
            out.set(i, x.get(plane * h * w + iy * w + ix) + add.get(i));
        }
    }

    /**
     * Bilinear resize (PyTorch upsample_bilinear2d, spec 2.5). alignCorners = 1: src = dst * scale with
     * scale = (in - 1) / (out - 1) (0 when out = 1); alignCorners = 0: src = max((dst + 0.5) scale - 0.5, 0) with
     * scale = in / out. Scales are computed in float32 on the host. total = planes H W.
     */
    public static void bilinear(FloatArray x, FloatArray out, int h, int w, int H, int W, float scaleY, float scaleX, int alignCorners, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int X = i % W;
            int t = i / W;
            int Y = t % H;
            int plane = t / H;
            float fy = Y * scaleY;
            float fx = X * scaleX;
            if (alignCorners == 0) {
                fy = TornadoMath.max((Y + 0.5f) * scaleY - 0.5f, 0f);
                fx = TornadoMath.max((X + 0.5f) * scaleX - 0.5f, 0f);
            }
            int y0 = TornadoMath.min((int) fy, h - 1);
            int y1 = TornadoMath.min(y0 + 1, h - 1);
            int x0 = TornadoMath.min((int) fx, w - 1);
            int x1 = TornadoMath.min(x0 + 1, w - 1);
            float ly = fy - y0;
            float lx = fx - x0;
            int src = plane * h * w;
            float top = x.get(src + y0 * w + x0) * (1f - lx) + x.get(src + y0 * w + x1) * lx;
            float bot = x.get(src + y1 * w + x0) * (1f - lx) + x.get(src + y1 * w + x1) * lx;
            out.set(i, top * (1f - ly) + bot * ly);
        }
    }

    // ------------------------------------------------------------------ offset generator primitives (spec 2.6, 6)

    /**
     * GroupNorm statistics (spec 2.6): for each (batch, group) of cpg consecutive channels of x (B, groups cpg, n),
     * stats[2 item] = mean, stats[2 item + 1] = 1 / sqrt(biased variance + 1e-5). Two passes (mean, then squared
     * deviations), summed per channel then over channels to limit float32 rounding. total = B * groups.
     */
    public static void groupNormStats(FloatArray x, FloatArray stats, int cpg, int n, int total) {
        for (@Parallel int item = 0; item < total; item++) {
            int base = item * cpg * n;
            float sum = 0f;
            for (int c = 0; c < cpg; c++) {
                float part = 0f;
                for (int p = 0; p < n; p++) {
                    part += x.get(base + c * n + p);
                }
                sum += part;
            }
            float mean = sum / (cpg * n);
            float sq = 0f;
            for (int c = 0; c < cpg; c++) {
                float part = 0f;
                for (int p = 0; p < n; p++) {
                    float d = x.get(base + c * n + p) - mean;
                    part += d * d;
                }
                sq += part;
            }
            stats.set(2 * item, mean);
            stats.set(2 * item + 1, 1f / TornadoMath.sqrt(sq / (cpg * n) + 1e-5f));
        }
    }

    /**
     * GroupNorm apply (spec 2.6): out[b, c, p] = (x[b, c, p] - mean) * inv * gamma[c] + beta[c], x: (B, C, n); out is
     * the first C channels of a (B, outChannels, n) buffer (the sampler's concat [features, similarities], spec 6).
     * total = B * C * n.
     */
    public static void groupNormApply(FloatArray x, FloatArray stats, FloatArray gamma, FloatArray beta, FloatArray out,
                                      int C, int cpg, int n, int outChannels, int total) {
        int groups = C / cpg;
        for (@Parallel int i = 0; i < total; i++) {
            int p = i % n;
            int t = i / n;
            int c = t % C;
            int b = t / C;
            int item = b * groups + c / cpg;
            float v = (x.get(i) - stats.get(2 * item)) * stats.get(2 * item + 1) * gamma.get(c) + beta.get(c);
            out.set((b * outChannels + c) * n + p, v);
        }
    }

    /** Copies x (B, C, n) into the first C channels of out (B, outChannels, n) (spec 6, feature_resample_norm=False). */
    public static void copyChannels(FloatArray x, FloatArray out, int C, int n, int outChannels, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int p = i % n;
            int t = i / n;
            int c = t % C;
            int b = t / C;
            out.set((b * outChannels + c) * n + p, x.get(i));
        }
    }

    /**
     * Inverse L2 norms for the local cosine similarity (spec 2.6): invNorm[b, p] = 1 / max(||A[b, :, p]||, 1e-8) over
     * the first C channels of buf (B, C + 8, n). total = B * n.
     */
    public static void channelInvNorm(FloatArray buf, FloatArray invNorm, int C, int n, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            int p = i % n;
            int b = i / n;
            int base = b * (C + 8) * n + p;
            float s = 0f;
            for (int c = 0; c < C; c++) {
                float v = buf.get(base + c * n);
                s += v * v;
            }
            invNorm.set(i, 1f / TornadoMath.max(TornadoMath.sqrt(s), 1e-8f));
        }
    }

    /**
     * Local cosine similarity LCS (spec 2.6): for the 8 dilation-2 neighbours (dy, dx) in {-2, 0, 2}^2 \ (0, 0),
     * row-major, writes channel C + o of buf (B, C + 8, H, W) with the cosine similarity of the first C channels at
     * (y, x) and (y + dy, x + dx); neighbours outside the image give 0. total = B * 8 * H * W.
     */
    public static void localCosineSimilarity(FloatArray buf, FloatArray invNorm, int C, int H, int W, int total) {
        int n = H * W;
        for (@Parallel int i = 0; i < total; i++) {
            int x = i % W;
            int t = i / W;
            int y = t % H;
            t = t / H;
            int o = t % 8;
            int b = t / 8;
            int oo = o < 4 ? o : o + 1;          // skip the centre of the 3x3 window
            int dy = (oo / 3 - 1) * 2;
            int dx = (oo % 3 - 1) * 2;
            int ny = y + dy;
            int nx = x + dx;
            float v = 0f;
            if (ny >= 0 && ny < H && nx >= 0 && nx < W) {
                int base = b * (C + 8) * n;
                int p = y * W + x;
                int q = ny * W + nx;
                float dot = 0f;
                for (int c = 0; c < C; c++) {
                    dot += buf.get(base + c * n + p) * buf.get(base + c * n + q);
                }
                v = dot * invNorm.get(b * n + p) * invNorm.get(b * n + q);
            }
            buf.set((b * (C + 8) + C + o) * n + y * W + x, v);
        }
    }

    /**
     * Pixel-unshuffle and offset combination (spec 2.6, 6): delta = O * sigmoid(D) + init_pos with
     * O = lrOff + pixel_unshuffle(hrOff, 2), D = lrScale + pixel_unshuffle(hrScale, 2); channel q = c*4 + i*2 + j.
     * lrOff, lrScale, delta: (B, 8G, h, w); hrOff, hrScale: (B, 2G, 2h, 2w); initPos: 8G. total = B * 8G * h * w.
     */
    public static void combineOffsets(FloatArray lrOff, FloatArray lrScale, FloatArray hrOff, FloatArray hrScale, FloatArray initPos,
                                      FloatArray delta, int groups, int h, int w, int total) {
        int q8 = 8 * groups;
        int H = 2 * h;
        int W = 2 * w;
        for (@Parallel int idx = 0; idx < total; idx++) {
            int x = idx % w;
            int t = idx / w;
            int y = t % h;
            t = t / h;
            int q = t % q8;
            int b = t / q8;
            int c = q / 4;
            int i = (q / 2) % 2;
            int j = q % 2;
            int hp = (b * 2 * groups + c) * H * W + (2 * y + i) * W + 2 * x + j;
            float o = lrOff.get(idx) + hrOff.get(hp);
            float d = lrScale.get(idx) + hrScale.get(hp);
            delta.set(idx, o * (1f / (1f + TornadoMath.exp(-d))) + initPos.get(q));
        }
    }

    /**
     * Offset-guided border grid-sample (spec 2.6, 6): out[b, c, 2y+i, 2x+j] = bilinear sample of f[b, c] at
     * ix = 2 (x + 0.5 + dx) - 0.5, iy = 2 (y + 0.5 + dy) - 0.5, clamped to the image (padding_mode='border'), with
     * (dx, dy) = delta[a = 0|1, g, i, j] for c's group g = c / (C / G). f, out: (B, C, 2h, 2w); delta: (B, 8G, h, w).
     * total = B * C * 2h * 2w.
     */
    public static void gridSampleBorder(FloatArray f, FloatArray delta, FloatArray out, int C, int groups, int h, int w, int total) {
        int H = 2 * h;
        int W = 2 * w;
        int cpg = C / groups;
        int q8 = 8 * groups;
        for (@Parallel int idx = 0; idx < total; idx++) {
            int X = idx % W;
            int t = idx / W;
            int Y = t % H;
            int plane = t / H;
            int c = plane % C;
            int b = plane / C;
            int g = c / cpg;
            int y = Y / 2;
            int i = Y % 2;
            int x = X / 2;
            int j = X % 2;
            int phase = g * 4 + i * 2 + j;
            float dx = delta.get((b * q8 + phase) * h * w + y * w + x);
            float dy = delta.get((b * q8 + 4 * groups + phase) * h * w + y * w + x);
            float ix = TornadoMath.min(TornadoMath.max(2f * (x + 0.5f + dx) - 0.5f, 0f), W - 1f);
            float iy = TornadoMath.min(TornadoMath.max(2f * (y + 0.5f + dy) - 0.5f, 0f), H - 1f);
            int x0 = (int) ix;
            int y0 = (int) iy;
            float wx = ix - x0;
            float wy = iy - y0;
            int x1 = TornadoMath.min(x0 + 1, W - 1);
            int y1 = TornadoMath.min(y0 + 1, H - 1);
            int src = plane * H * W;
            float v = f.get(src + y0 * W + x0) * (1f - wx) * (1f - wy) + f.get(src + y0 * W + x1) * wx * (1f - wy)
                    + f.get(src + y1 * W + x0) * (1f - wx) * wy + f.get(src + y1 * W + x1) * wx * wy;
            out.set(idx, v);
        }
    }

    // ------------------------------------------------------------------ residual / elementwise (spec 4(d), 8(a))

    /** out = a * x + b * y elementwise (residual combinations; the FPN-add sum y = hr_out + lr_out of spec 8(a)). */
    public static void axpby(FloatArray x, FloatArray y, FloatArray out, float a, float b, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            out.set(i, a * x.get(i) + b * y.get(i));
        }
    }

    /** out = x (hr_out = X_h when use_high_pass is off, spec 1 / 5.1). */
    public static void copy(FloatArray x, FloatArray out, int total) {
        for (@Parallel int i = 0; i < total; i++) {
            out.set(i, x.get(i));
        }
    }
}
