package io.freqfusion.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Minimal "--flag value" parser: repeated flags accumulate; unknown flags are errors. */
final class Args {
    private final Map<String, List<String>> values = new LinkedHashMap<>();

    Args(String[] argv, int from, Set<String> allowed) {
        for (int i = from; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--")) throw new UsageException("unexpected argument '" + a + "'");
            String key, val;
            int eq = a.indexOf('=');
            if (eq > 0) {
                key = a.substring(2, eq);
                val = a.substring(eq + 1);
            } else {
                key = a.substring(2);
                if (i + 1 >= argv.length) throw new UsageException("--" + key + " needs a value");
                val = argv[++i];
            }
            if (!allowed.contains(key)) throw new UsageException("unknown option --" + key + " (allowed: --" + String.join(", --", allowed) + ")");
            values.computeIfAbsent(key, k -> new ArrayList<>()).add(val);
        }
    }

    String get(String key, String def) {
        List<String> v = values.get(key);
        if (v == null) return def;
        if (v.size() > 1) throw new UsageException("--" + key + " given more than once");
        return v.get(0);
    }

    String require(String key) {
        String v = get(key, null);
        if (v == null) throw new UsageException("--" + key + " is required");
        return v;
    }

    List<String> all(String key) { return values.getOrDefault(key, List.of()); }

    int intValue(String key, int def, int min) {
        String v = get(key, null);
        if (v == null) return def;
        try {
            int n = Integer.parseInt(v.strip());
            if (n < min) throw new UsageException("--" + key + " must be >= " + min + ", got " + n);
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("--" + key + " must be an integer, got '" + v + "'");
        }
    }

    static final class UsageException extends IllegalArgumentException {
        UsageException(String m) { super(m); }
    }
}
