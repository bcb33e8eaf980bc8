package io.freqfusion.model;

/** How {@code semi_conv=False} resizes the lr feature to the hr size before reassembly (spec 2.4, 2.5). */
public enum UpsampleMode {
    NEAREST, BILINEAR;

    public String referenceName() { return name().toLowerCase(java.util.Locale.ROOT); }

    public static UpsampleMode parse(String s) {
        return switch (s) {
            case "nearest" -> NEAREST;
            case "bilinear" -> BILINEAR;
            default -> throw new ConfigException("upsample_mode: '" + s + "' is not supported (use 'nearest' or 'bilinear')");
        };
    }
}
