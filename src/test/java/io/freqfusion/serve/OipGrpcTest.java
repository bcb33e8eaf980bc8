package io.freqfusion.serve;

import com.google.protobuf.ByteString;
import io.freqfusion.Golden;
import io.freqfusion.serve.grpc.v2.GRPCInferenceServiceGrpc;
import io.freqfusion.serve.grpc.v2.InferTensorContents;
import io.freqfusion.serve.grpc.v2.ModelInferRequest;
import io.freqfusion.serve.grpc.v2.ModelInferResponse;
import io.freqfusion.serve.grpc.v2.ModelMetadataRequest;
import io.freqfusion.serve.grpc.v2.ModelMetadataResponse;
import io.freqfusion.serve.grpc.v2.ModelReadyRequest;
import io.freqfusion.serve.grpc.v2.ServerLiveRequest;
import io.freqfusion.serve.grpc.v2.ServerMetadataRequest;
import io.freqfusion.serve.grpc.v2.ServerReadyRequest;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** OIP v2 gRPC with a stub generated from the proto and a plain grpc-java channel, as a stock client would. */
@QuarkusTest
@TestProfile(Profiles.Golden.class)
class OipGrpcTest extends GoldenGrpcClient {
    GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub s() { return stub.withDeadlineAfter(60, TimeUnit.SECONDS); }

    static ByteString raw(float[] d) {
        ByteBuffer b = ByteBuffer.allocate(4 * d.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(d);
        return ByteString.copyFrom(b.array());
    }

    static ModelInferRequest.Builder request(String model, Map<String, Tensor> inputs, boolean rawContents) {
        ModelInferRequest.Builder b = ModelInferRequest.newBuilder().setModelName(model).setId("g-" + model);
        inputs.forEach((name, t) -> {
            ModelInferRequest.InferInputTensor.Builder ib = ModelInferRequest.InferInputTensor.newBuilder().setName(name).setDatatype("FP32");
            for (int d : t.shape()) ib.addShape(d);
            if (rawContents) {
                b.addRawInputContents(raw(t.data()));
            } else {
                InferTensorContents.Builder cb = InferTensorContents.newBuilder();
                for (float f : t.data()) cb.addFp32Contents(f);
                ib.setContents(cb);
            }
            b.addInputs(ib);
        });
        return b;
    }

    static Map<String, Tensor> outputs(ModelInferResponse r) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        boolean raw = r.getRawOutputContentsCount() > 0;
        if (raw) assertEquals(r.getOutputsCount(), r.getRawOutputContentsCount());
        for (int i = 0; i < r.getOutputsCount(); i++) {
            ModelInferResponse.InferOutputTensor o = r.getOutputs(i);
            assertEquals("FP32", o.getDatatype());
            int[] shape = o.getShapeList().stream().mapToInt(Long::intValue).toArray();
            float[] d = new float[(int) Tensor.numel(shape)];
            if (raw) {
                ByteBuffer bb = r.getRawOutputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                assertEquals(4 * d.length, bb.remaining());
                bb.asFloatBuffer().get(d);
            } else {
                assertEquals(d.length, o.getContents().getFp32ContentsCount());
                for (int k = 0; k < d.length; k++) d[k] = o.getContents().getFp32Contents(k);
            }
            m.put(o.getName(), new Tensor(shape, d));
        }
        return m;
    }

    @Test
    void healthAndMetadata() {
        assertTrue(s().serverLive(ServerLiveRequest.getDefaultInstance()).getLive());
        assertTrue(s().serverReady(ServerReadyRequest.getDefaultInstance()).getReady());
        var sm = s().serverMetadata(ServerMetadataRequest.getDefaultInstance());
        assertEquals("freqfusion-serve", sm.getName());
        assertTrue(sm.getExtensionsList().contains("binary_tensor_data"));
        assertTrue(s().modelReady(ModelReadyRequest.newBuilder().setName("small_c8").build()).getReady());
        ModelMetadataResponse md = s().modelMetadata(ModelMetadataRequest.newBuilder().setName("fpn_add_c16").build());
        assertEquals("freqfusion_java", md.getPlatform());
        assertEquals(List.of("1"), md.getVersionsList());
        assertEquals(List.of("x1", "x2", "x3", "x4"), md.getInputsList().stream().map(ModelMetadataResponse.TensorMetadata::getName).toList());
        assertEquals(List.of(-1L, 16L, -1L, -1L), md.getInputs(0).getShapeList());
        assertStatus(Status.Code.NOT_FOUND, () -> s().modelReady(ModelReadyRequest.newBuilder().setName("nope").build()));
        assertStatus(Status.Code.NOT_FOUND, () -> s().modelMetadata(ModelMetadataRequest.newBuilder().setName("small_c8").setVersion("3").build()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"small_c8", "opt_feature_resample", "batch2", "nonsquare", "fpn_add_c16"})
    void goldenRaw(String name) throws IOException {
        SafeTensors.Contents c = Golden.read(name);
        ModelInferResponse r = s().modelInfer(request(name, Golden.inputs(c), true).build());
        assertEquals(name, r.getModelName());
        assertEquals("g-" + name, r.getId());
        assertTrue(r.getRawOutputContentsCount() > 0, "raw in, raw out");
        OipRestTest.assertGolden(name + " (gRPC raw)", c, outputs(r), null);
    }

    @ParameterizedTest
    @ValueSource(strings = {"small_c8", "fpn_add_c16"})
    void goldenTyped(String name) throws IOException {
        SafeTensors.Contents c = Golden.read(name);
        ModelInferResponse r = s().modelInfer(request(name, Golden.inputs(c), false).build());
        assertEquals(0, r.getRawOutputContentsCount(), "typed in, typed out");
        OipRestTest.assertGolden(name + " (gRPC fp32_contents)", c, outputs(r), null);
    }

    @Test
    void outputSelectionAndFp16Raw() throws IOException {
        SafeTensors.Contents c = Golden.read("small_c8");
        ModelInferRequest.Builder b = request("small_c8", Golden.inputs(c), true)
                .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("hr_feat"));
        Map<String, Tensor> got = outputs(s().modelInfer(b.build()));
        assertEquals(List.of("hr_feat"), List.copyOf(got.keySet()));
        OipRestTest.assertGolden("selected", c, got, List.of("hr_feat"));

        // FP16 raw input: same as FP32 with fp16-rounded values
        Map<String, Tensor> rounded = new LinkedHashMap<>();
        Golden.inputs(c).forEach((k, v) -> rounded.put(k, OipTestClient.rounded(v, "FP16")));
        Map<String, Tensor> want = outputs(s().modelInfer(request("small_c8", rounded, true).build()));
        ModelInferRequest.Builder h = ModelInferRequest.newBuilder().setModelName("small_c8");
        Golden.inputs(c).forEach((k, t) -> {
            ModelInferRequest.InferInputTensor.Builder ib = ModelInferRequest.InferInputTensor.newBuilder().setName(k).setDatatype("FP16");
            for (int d : t.shape()) ib.addShape(d);
            h.addInputs(ib);
            h.addRawInputContents(ByteString.copyFrom(OipTestClient.encode(t.data(), "FP16")));
        });
        Map<String, Tensor> fp16 = outputs(s().modelInfer(h.build()));
        for (var e : want.entrySet()) Golden.assertClose("FP16 " + e.getKey(), e.getValue(), fp16.get(e.getKey()));
    }

    @Test
    void errorCodes() throws IOException {
        SafeTensors.Contents c = Golden.read("small_c8");
        Map<String, Tensor> in = Golden.inputs(c);
        assertStatus(Status.Code.NOT_FOUND, () -> s().modelInfer(request("nope", in, true).build()));
        // wrong shape: lr not half of hr
        Map<String, Tensor> bad = new LinkedHashMap<>(in);
        bad.put("lr_feat", Tensor.zeros(1, 8, 3, 3));
        StatusRuntimeException e = assertStatus(Status.Code.INVALID_ARGUMENT, () -> s().modelInfer(request("small_c8", bad, true).build()));
        assertTrue(e.getStatus().getDescription().contains("lr_feat"), e.getStatus().getDescription());
        // raw contents count != inputs
        ModelInferRequest.Builder b = request("small_c8", in, true);
        b.addRawInputContents(ByteString.copyFrom(new byte[4]));
        assertStatus(Status.Code.INVALID_ARGUMENT, () -> s().modelInfer(b.build()));
        // raw size inconsistent with the shape
        ModelInferRequest.Builder b2 = request("small_c8", in, true);
        b2.setRawInputContents(0, ByteString.copyFrom(new byte[12]));
        e = assertStatus(Status.Code.INVALID_ARGUMENT, () -> s().modelInfer(b2.build()));
        assertTrue(e.getStatus().getDescription().contains("'hr_feat'"), e.getStatus().getDescription());
        // typed contents of another datatype
        ModelInferRequest.Builder b3 = request("small_c8", in, false);
        b3.getInputsBuilder(0).setDatatype("INT32");
        assertStatus(Status.Code.INVALID_ARGUMENT, () -> s().modelInfer(b3.build()));
        // NaN
        Map<String, Tensor> nan = new LinkedHashMap<>(in);
        float[] d = in.get("hr_feat").data().clone();
        d[0] = Float.POSITIVE_INFINITY;
        nan.put("hr_feat", new Tensor(in.get("hr_feat").shape(), d));
        e = assertStatus(Status.Code.INVALID_ARGUMENT, () -> s().modelInfer(request("small_c8", nan, false).build()));
        assertTrue(e.getStatus().getDescription().contains("finite"));
        // still serving
        OipRestTest.assertGolden("after errors", c, outputs(s().modelInfer(request("small_c8", in, true).build())), null);
    }

    static StatusRuntimeException assertStatus(Status.Code code, org.junit.jupiter.api.function.Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        return e;
    }

}
