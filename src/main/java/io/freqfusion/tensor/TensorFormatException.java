package io.freqfusion.tensor;

/** A tensor file or buffer is malformed; the message names the tensor (where known) and the problem. */
public class TensorFormatException extends IllegalArgumentException {
    public TensorFormatException(String message) { super(message); }
    public TensorFormatException(String message, Throwable cause) { super(message, cause); }
}
