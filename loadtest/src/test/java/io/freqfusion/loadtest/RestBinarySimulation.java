package io.freqfusion.loadtest;

/** OIP v2 REST with the binary tensor data extension (raw FP32 in and out). */
public class RestBinarySimulation extends RestInferSimulation {
    @Override
    boolean binary() {
        return true;
    }
}
