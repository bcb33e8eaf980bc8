package io.freqfusion.serve.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.freqfusion.serve.InferenceException;
import io.freqfusion.serve.InferenceService;
import io.freqfusion.serve.InferenceService.InputTensor;
import io.freqfusion.serve.admission.MemoryBudget;
import io.freqfusion.serve.rest.HttpGate;
import io.freqfusion.serve.grpc.v2.GRPCInferenceService;
import io.freqfusion.serve.grpc.v2.InferParameter;
import io.freqfusion.serve.grpc.v2.InferTensorContents;
import io.freqfusion.serve.grpc.v2.ModelInferRequest;
import io.freqfusion.serve.grpc.v2.ModelInferResponse;
import io.freqfusion.serve.grpc.v2.ModelMetadataRequest;
import io.freqfusion.serve.grpc.v2.ModelMetadataResponse;
import io.freqfusion.serve.grpc.v2.ModelReadyRequest;
import io.freqfusion.serve.grpc.v2.ModelReadyResponse;
import io.freqfusion.serve.grpc.v2.ServerLiveRequest;
import io.freqfusion.serve.grpc.v2.ServerLiveResponse;
import io.freqfusion.serve.grpc.v2.ServerMetadataRequest;
import io.freqfusion.serve.grpc.v2.ServerMetadataResponse;
import io.freqfusion.serve.grpc.v2.ServerReadyRequest;
import io.freqfusion.serve.grpc.v2.ServerReadyResponse;
import io.freqfusion.serve.metrics.RequestRecorder;
import io.freqfusion.serve.metrics.ServeMetrics;
import io.freqfusion.serve.repository.ModelState;
import io.freqfusion.serve.repository.ServedModel;
import io.freqfusion.serve.rest.OipResource;
import io.freqfusion.serve.scheduling.InferenceJob;
import io.freqfusion.tensor.Tensor;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The standard {@code inference.GRPCInferenceService} (OIP v2). Inputs come as {@code raw_input_contents} (FP32, FP16,
 * BF16) or typed {@code contents.fp32_contents}; the response mirrors the request: raw inputs get
 * {@code raw_output_contents}, typed inputs get typed {@code fp32_contents} (request parameter
 * {@code binary_data_output} = true/false forces raw/typed). Errors: INVALID_ARGUMENT, NOT_FOUND,
 * RESOURCE_EXHAUSTED (queue full, limits), UNAVAILABLE (model not ready), DEADLINE_EXCEEDED.
 */
@GrpcService
public class OipGrpcService implements GRPCInferenceService {
    private static final Logger LOG = Logger.getLogger(OipGrpcService.class);

    @Inject
    InferenceService service;

    @Override
    public Uni<ServerLiveResponse> serverLive(ServerLiveRequest request) {
        return Uni.createFrom().item(ServerLiveResponse.newBuilder().setLive(true).build());
    }

    @Override
    public Uni<ServerReadyResponse> serverReady(ServerReadyRequest request) {
        return Uni.createFrom().item(ServerReadyResponse.newBuilder().setReady(service.repository().ready()).build());
    }

    @Override
    public Uni<ModelReadyResponse> modelReady(ModelReadyRequest request) {
        try {
            ServedModel m = service.find(request.getName(), request.getVersion());
            return Uni.createFrom().item(ModelReadyResponse.newBuilder().setReady(m.isReady()).build());
        } catch (InferenceException e) {
            return Uni.createFrom().failure(status(e));
        }
    }

    @Override
    public Uni<ServerMetadataResponse> serverMetadata(ServerMetadataRequest request) {
        return Uni.createFrom().item(ServerMetadataResponse.newBuilder().setName(OipResource.SERVER_NAME)
                .setVersion(OipResource.SERVER_VERSION).addAllExtensions(OipResource.EXTENSIONS).build());
    }

    @Override
    public Uni<ModelMetadataResponse> modelMetadata(ModelMetadataRequest request) {
        try {
            ServedModel m = service.find(request.getName(), request.getVersion());
            if (m.state() != ModelState.READY) {
                throw new InferenceException(InferenceException.Kind.UNAVAILABLE, "model '" + m.name() + "' is " + m.state()
                        + (m.reason() != null ? ": " + m.reason() : ""));
            }
            ModelMetadataResponse.Builder b = ModelMetadataResponse.newBuilder().setName(m.name()).addVersions(ServedModel.VERSION)
                    .setPlatform(ServedModel.PLATFORM);
            for (ServedModel.TensorInfo t : m.inputs()) b.addInputs(tensor(t));
            for (ServedModel.TensorInfo t : m.outputs()) b.addOutputs(tensor(t));
            return Uni.createFrom().item(b.build());
        } catch (InferenceException e) {
            return Uni.createFrom().failure(status(e));
        }
    }

    @Override
    @Blocking
    public Uni<ModelInferResponse> modelInfer(ModelInferRequest request) {
        RequestRecorder rec = new RequestRecorder(service.metrics(), ServeMetrics.GRPC, service.metricModel(request.getModelName()),
                request.getSerializedSize());
        // the ticket GrpcGate opened when the message arrived (released when the call ends)
        MemoryBudget.Ticket gate = GrpcGate.TICKET_CTX.get();
        MemoryBudget.Ticket ticket = gate != null ? gate : service.budget().open();
        String requestId = GrpcGate.REQUEST_ID_CTX.get();
        if (requestId != null) org.jboss.logging.MDC.put(HttpGate.MDC_KEY, requestId);
        try {
            if (gate == null) ticket.reserve(MemoryBudget.GRPC_MESSAGE_FACTOR * (long) request.getSerializedSize(), "the request message");
            ServedModel m = service.resolve(request.getModelName(), request.getModelVersion());
            boolean raw = request.getRawInputContentsCount() > 0;
            if (raw && request.getRawInputContentsCount() != request.getInputsCount()) {
                throw InferenceException.invalid("raw_input_contents has " + request.getRawInputContentsCount() + " entries for "
                        + request.getInputsCount() + " inputs (one per input, in input order)");
            }
            if (request.getInputsCount() == 0) throw InferenceException.invalid("the request has no inputs");
            List<InputTensor> inputs = new ArrayList<>(request.getInputsCount());
            for (int i = 0; i < request.getInputsCount(); i++) {
                ModelInferRequest.InferInputTensor t = request.getInputs(i);
                long[] shape = new long[t.getShapeCount()];
                for (int k = 0; k < shape.length; k++) shape[k] = t.getShape(k);
                String label = "input '" + t.getName() + "'";
                if (raw) {
                    if (t.hasContents()) throw InferenceException.invalid(label + ": contents must not be set when raw_input_contents is used");
                    ByteBuffer bytes = request.getRawInputContents(i).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                    inputs.add(new InputTensor(t.getName(), t.getDatatype(), shape, null, bytes));
                } else {
                    InferTensorContents c = t.getContents();
                    if (!"FP32".equals(t.getDatatype()) && InferenceService.oipType(t.getDatatype()) != null) {
                        throw InferenceException.invalid(label + ": " + t.getDatatype() + " data must be sent in raw_input_contents");
                    }
                    if (c.getBoolContentsCount() + c.getIntContentsCount() + c.getInt64ContentsCount() + c.getUintContentsCount()
                            + c.getUint64ContentsCount() + c.getFp64ContentsCount() + c.getBytesContentsCount() > 0) {
                        throw InferenceException.invalid(label + ": datatype " + t.getDatatype() + " is not supported; send FP32 in contents.fp32_contents");
                    }
                    if (c.getFp32ContentsCount() > service.config().limits().maxTensorElements()) {
                        throw new InferenceException(InferenceException.Kind.TOO_LARGE, label + ": " + c.getFp32ContentsCount()
                                + " fp32_contents exceed the limit of " + service.config().limits().maxTensorElements()
                                + " elements (freqfusion.limits.max-tensor-elements)");
                    }
                    float[] v = new float[c.getFp32ContentsCount()];
                    for (int k = 0; k < v.length; k++) v[k] = c.getFp32Contents(k);
                    inputs.add(new InputTensor(t.getName(), t.getDatatype(), shape, v, null));
                }
            }
            List<String> names = new ArrayList<>();
            for (ModelInferRequest.InferRequestedOutputTensor o : request.getOutputsList()) names.add(o.getName());
            InferParameter force = request.getParametersMap().get("binary_data_output");
            boolean rawOut = force != null && force.hasBoolParam() ? force.getBoolParam() : raw;
            InferenceJob job = service.prepare(m, inputs, names, ticket, o -> true, requestId);
            Duration timeout = null;
            Deadline deadline = Context.current().getDeadline();
            if (deadline != null) timeout = Duration.ofMillis(Math.max(1, deadline.timeRemaining(TimeUnit.MILLISECONDS)));
            var future = service.submit(m, job, timeout).handleAsync((out, err) -> {
                if (err != null) {
                    InferenceException e = InferenceException.of(err);
                    rec.failed(e, 0);
                    throw status(e);
                }
                ModelInferResponse resp = encode(m, request.getId(), job.outputs(), out, rawOut);
                rec.ok(resp.getSerializedSize());
                return resp;
            }, Infrastructure.getDefaultWorkerPool());
            rec.countCancellation(future); // a cancelled call cancels the stage (through the Uni)
            if (gate == null) future.whenComplete((r, t) -> ticket.close());
            return Uni.createFrom().completionStage(future).onFailure().transform(t ->
                    t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t);
        } catch (RuntimeException e) {
            if (gate == null) ticket.close();
            InferenceException ie = InferenceException.of(e);
            rec.failed(ie, 0);
            return Uni.createFrom().failure(status(ie));
        } finally {
            if (requestId != null) org.jboss.logging.MDC.remove(HttpGate.MDC_KEY);
        }
    }

    private static ModelInferResponse encode(ServedModel m, String id, List<String> order, Map<String, Tensor> out, boolean raw) {
        ModelInferResponse.Builder b = ModelInferResponse.newBuilder().setModelName(m.name()).setModelVersion(ServedModel.VERSION).setId(id);
        for (String name : order) {
            Tensor t = out.get(name);
            ModelInferResponse.InferOutputTensor.Builder ob = ModelInferResponse.InferOutputTensor.newBuilder().setName(name).setDatatype("FP32");
            for (int d : t.shape()) ob.addShape(d);
            float[] data = t.data();
            if (raw) {
                ByteBuffer bb = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
                bb.asFloatBuffer().put(data);
                ByteString bytes = UnsafeByteOperations.unsafeWrap(bb.array());
                b.addRawOutputContents(bytes);
            } else {
                InferTensorContents.Builder cb = InferTensorContents.newBuilder();
                for (float f : data) cb.addFp32Contents(f);
                ob.setContents(cb);
            }
            b.addOutputs(ob);
        }
        return b.build();
    }

    private static ModelMetadataResponse.TensorMetadata tensor(ServedModel.TensorInfo t) {
        ModelMetadataResponse.TensorMetadata.Builder b = ModelMetadataResponse.TensorMetadata.newBuilder().setName(t.name()).setDatatype(t.datatype());
        for (long d : t.shape()) b.addShape(d);
        return b.build();
    }

    static io.grpc.StatusRuntimeException status(InferenceException e) {
        if (e.kind() == InferenceException.Kind.INTERNAL) LOG.error("inference failed: " + e.getMessage(), e.getCause());
        io.grpc.Metadata trailers = new io.grpc.Metadata();
        if (e.kind() == InferenceException.Kind.QUEUE_FULL || e.kind() == InferenceException.Kind.UNAVAILABLE) {
            trailers.put(GrpcGate.RETRY_AFTER, "1");
        }
        return Status.fromCode(e.kind().grpcCode).withDescription(e.getMessage()).asRuntimeException(trailers);
    }
}
