package io.freqfusion.tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** NumPy {@code .npy} (format versions 1.0 to 3.0) for little-endian float32 and float16, C order. */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final int MAX_HEADER = 1 << 20;
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npy() {}

    public static Tensor read(Path path) throws IOException {
        long size = Files.size(path);
        if (size > Integer.MAX_VALUE - 8) throw new TensorFormatException(path + ": file too large (" + size + " bytes)");
        try {
            return read(ByteBuffer.wrap(Files.readAllBytes(path)));
        } catch (TensorFormatException e) {
            throw new TensorFormatException(path.getFileName() + ": " + e.getMessage(), e);
        }
    }

    public static Tensor read(ByteBuffer buffer) {
        ByteBuffer buf = buffer.slice().order(ByteOrder.LITTLE_ENDIAN);
        int total = buf.remaining();
        if (total < 10) throw new TensorFormatException("truncated .npy: " + total + " bytes");
        for (int i = 0; i < MAGIC.length; i++) {
            if (buf.get(i) != MAGIC[i]) throw new TensorFormatException("not a .npy file (bad magic)");
        }
        int major = buf.get(6);
        long headerLen;
        int headerStart;
        if (major == 1) {
            headerLen = buf.getShort(8) & 0xffff;
            headerStart = 10;
        } else if (major == 2 || major == 3) {
            if (total < 12) throw new TensorFormatException("truncated .npy header");
            headerLen = buf.getInt(8) & 0xffffffffL;
            headerStart = 12;
        } else {
            throw new TensorFormatException("unsupported .npy format version " + major);
        }
        if (headerLen > MAX_HEADER || headerStart + headerLen > total) {
            throw new TensorFormatException(".npy header length " + headerLen + " exceeds the file (" + total + " bytes)");
        }
        byte[] h = new byte[(int) headerLen];
        buf.get(headerStart, h);
        String header = new String(h, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher descr = DESCR.matcher(header), fortran = FORTRAN.matcher(header), shapeM = SHAPE.matcher(header);
        if (!descr.find() || !fortran.find() || !shapeM.find()) {
            throw new TensorFormatException(".npy header lacks descr, fortran_order or shape: " + header.strip());
        }
        DType dtype = switch (descr.group(1)) {
            case "<f4", "=f4" -> DType.F32;
            case "<f2", "=f2" -> DType.F16;
            default -> throw new TensorFormatException(".npy dtype " + descr.group(1) + " is not supported (use little-endian float32 '<f4' or float16 '<f2')");
        };
        if (fortran.group(1).equals("True")) {
            throw new TensorFormatException(".npy array is in Fortran order; save it C-contiguous (np.ascontiguousarray)");
        }
        String dims = shapeM.group(1).strip();
        String[] parts = dims.isEmpty() ? new String[0] : dims.split(",");
        java.util.List<Integer> shapeList = new java.util.ArrayList<>();
        for (String p : parts) {
            String s = p.strip().replace("L", "");
            if (s.isEmpty()) continue;
            long d;
            try {
                d = Long.parseLong(s);
            } catch (NumberFormatException e) {
                throw new TensorFormatException(".npy shape entry '" + s + "' is not an integer");
            }
            if (d < 0 || d > Integer.MAX_VALUE) throw new TensorFormatException(".npy shape entry " + d + " out of range");
            shapeList.add((int) d);
        }
        int[] shape = shapeList.stream().mapToInt(Integer::intValue).toArray();
        long numel = Tensor.numel(shape);
        long dataStart = headerStart + headerLen;
        if (numel > Integer.MAX_VALUE - 8 || numel * dtype.bytes != total - dataStart) {
            throw new TensorFormatException(".npy shape " + java.util.Arrays.toString(shape) + " needs " + numel * dtype.bytes
                    + " data bytes but the file has " + (total - dataStart));
        }
        float[] data = new float[(int) numel];
        dtype.decode(buf.position((int) dataStart), data, 0, (int) numel);
        return new Tensor(shape, data);
    }

    public static void write(Path path, Tensor t) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(path), 1 << 16)) {
            write(out, t);
        }
    }

    public static void write(OutputStream out, Tensor t) throws IOException {
        int[] dims = t.shape();
        StringBuilder shape = new StringBuilder("(");
        for (int i = 0; i < dims.length; i++) shape.append(i == 0 ? "" : ", ").append(dims[i]);
        shape.append(dims.length == 1 ? ",)" : ")");
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
        int unpadded = 10 + dict.length() + 1;
        int pad = (64 - unpadded % 64) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        ByteBuffer head = ByteBuffer.allocate(10 + header.length()).order(ByteOrder.LITTLE_ENDIAN);
        head.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length()).put(header.getBytes(StandardCharsets.ISO_8859_1));
        out.write(head.array());
        LittleEndian.writeFloats(out, t.data());
    }
}
