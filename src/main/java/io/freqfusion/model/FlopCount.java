package io.freqfusion.model;

/** Multiply-accumulate count of one forward (spec section 9); one MAC = 2 FLOP. */
public final class FlopCount {
    private FlopCount() {}

    /** MACs of one module for batch B, hr H x W and lr h x w. */
    public static long macs(FreqFusionConfig c, int B, int H, int W, int h, int w) {
        long nH = (long) B * H * W, nL = (long) B * h * w;
        long cc = c.compressedChannels(), ch = c.hrChannels(), cl = c.lrChannels();
        long kl2 = c.lowpassTaps(), kh2 = c.useHighPass() ? c.highpassTaps() : 0, e = (long) c.encoderKernel() * c.encoderKernel();
        long m = nH * cc * ch + nL * cc * cl;
        if (c.semiConv() && c.compFeatUpsample()) {
            m += nH * kh2 * cc * e + nH * cc * kh2          // E_H(P_h), CARAFE(P_h, K_h0)
                    + nH * kl2 * cc * e + nL * kl2 * cc * e // E_L(P_h'), E_L(P_l)
                    + nH * kl2 * kl2                        // CARAFE(Z_ll, K_l0)
                    + nL * kh2 * cc * e + nH * kh2 * kl2;   // E_H(P_l), CARAFE(Z_hl, K_l)
        } else if (c.semiConv()) {
            m += (nH + nL) * (kl2 + kh2) * cc * e;
        } else {
            m += nH * (kl2 + kh2) * cc * e;
        }
        m += nH * cl * kl2 + nH * ch * kh2;                   // the two reassemblies of the real features
        if (c.featureResample()) {
            long g8 = 8L * c.featureResampleGroup();
            m += (nH + nL) * cc * 17 + 4 * nL * g8 * (cc + 8) * e + nH * cl * 4;
        }
        return m;
    }

    public static long macs(FusionModel model, java.util.Map<String, int[]> inputShapes) {
        if (model.topology() == Topology.SINGLE) {
            int[] hr = inputShapes.get("hr_feat"), lr = inputShapes.get("lr_feat");
            return macs(model.stages().get(0).config(), hr[0], hr[2], hr[3], lr[2], lr[3]);
        }
        long m = 0;
        int n = model.levels();
        for (int s = 0; s < model.stages().size(); s++) {
            int lvl = model.hrLevelOfStage(s);
            int[] hr = inputShapes.get("x" + (lvl + 1)), lr = inputShapes.get("x" + (lvl + 2));
            m += macs(model.stages().get(s).config(), hr[0], hr[2], hr[3], lr[2], lr[3]);
        }
        return m;
    }
}
