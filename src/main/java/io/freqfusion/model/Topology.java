package io.freqfusion.model;

/** How FreqFusion modules are wired: one module, or a pyramid (spec section 8). */
public enum Topology {
    /** One module: inputs hr_feat, lr_feat; outputs mask, hr_feat, lr_feat. */
    SINGLE("single"),
    /** FPN top-down "add" chain: y_i = hr_out + lr_out. */
    FPN_ADD("fpn-add"),
    /** SegNeXt-head "concat" chain: y_i = cat(hr_out, lr_out), group-interleaved when resampling. */
    FPN_CONCAT("fpn-concat");

    public final String id;

    Topology(String id) { this.id = id; }

    /** Accepts "single", "fpn-add", "fpn-concat" and the golden metadata forms "fpn_add", "fpn_concat". */
    public static Topology parse(String s) {
        for (Topology t : values()) {
            if (t.id.equals(s) || t.id.replace('-', '_').equals(s)) return t;
        }
        throw new ConfigException("pyramid: '" + s + "' is not one of single, fpn-add, fpn-concat");
    }
}
