package io.freqfusion.loadtest;

/** OIP v2 REST with JSON tensors (flat row-major "data" arrays in and out). */
public class RestJsonSimulation extends RestInferSimulation {
    @Override
    boolean binary() {
        return false;
    }
}
