package io.freqfusion.model;

/** Input tensors whose shapes the model cannot take; the message names the tensor and the rule. */
public class ShapeException extends IllegalArgumentException {
    public ShapeException(String message) { super(message); }
}
