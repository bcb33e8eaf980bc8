package io.freqfusion.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.freqfusion.Golden;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Builds model repositories for the tests under target/ from the golden files. */
public final class TestModels {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TestModels() {}

    public static Path root() {
        return Path.of("target", "test-models").toAbsolutePath();
    }

    /** A fresh folder target/test-models/{name}. */
    public static Path repo(String name) {
        Path dir = root().resolve(name);
        try {
            if (Files.exists(dir)) {
                try (var s = Files.walk(dir)) {
                    s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
            Files.createDirectories(dir);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Map<String, Tensor> params(SafeTensors.Contents c) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        c.tensors().forEach((k, v) -> { if (k.startsWith("param.")) m.put(k.substring(6), v); });
        return m;
    }

    private static String pyramid(String kind) {
        return switch (kind) {
            case "fpn_add" -> "fpn-add";
            case "fpn_concat" -> "fpn-concat";
            default -> "single";
        };
    }

    /** {@code <repo>/<model>/config.json} (module kwargs + pyramid + extra) and {@code weights.safetensors} of a golden case. */
    public static void configAndWeights(Path repo, String model, String goldenCase, Map<String, Object> extra) {
        try {
            SafeTensors.Contents c = Golden.read(goldenCase);
            Map<String, Object> cfg = new LinkedHashMap<>();
            String kw = c.metadata().get("module_kwargs");
            if (kw != null) cfg.putAll(JSON.readValue(kw, Map.class));
            cfg.put("pyramid", pyramid(c.metadata().getOrDefault("kind", "single")));
            if (c.metadata().containsKey("stage_kwargs")) cfg.put("stages", JSON.readValue(c.metadata().get("stage_kwargs"), Map.class));
            cfg.putAll(extra);
            Path dir = Files.createDirectories(repo.resolve(model));
            Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
            SafeTensors.write(dir.resolve("weights.safetensors"), params(c), Map.of());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A self-describing {@code <repo>/<model>/model.safetensors}: state_dict names plus the config in the metadata. */
    public static void selfDescribing(Path repo, String model, String goldenCase) {
        try {
            SafeTensors.Contents c = Golden.read(goldenCase);
            Map<String, String> meta = new LinkedHashMap<>();
            for (String k : new String[] {"module_kwargs", "kind", "stage_kwargs", "concat"}) {
                if (c.metadata().containsKey(k)) meta.put(k, c.metadata().get(k));
            }
            Path dir = Files.createDirectories(repo.resolve(model));
            SafeTensors.write(dir.resolve("model.safetensors"), params(c), meta);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A golden file copied unchanged as {@code <repo>/<model>/model.safetensors} (param. prefix detected). */
    public static void goldenAsIs(Path repo, String model, String goldenCase) {
        try {
            Path dir = Files.createDirectories(repo.resolve(model));
            Files.copy(Golden.dir().resolve(goldenCase + ".safetensors"), dir.resolve("model.safetensors"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A model whose weights file is truncated: it must load as UNAVAILABLE. */
    public static void broken(Path repo, String model) {
        try {
            Path dir = Files.createDirectories(repo.resolve(model));
            Files.writeString(dir.resolve("config.json"), "{\"pyramid\": \"single\"}");
            byte[] good = Files.readAllBytes(Golden.dir().resolve("small_c8.safetensors"));
            Files.write(dir.resolve("weights.safetensors"), java.util.Arrays.copyOf(good, good.length / 2));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A free TCP port for the gRPC test server. */
    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
