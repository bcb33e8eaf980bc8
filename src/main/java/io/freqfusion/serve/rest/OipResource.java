package io.freqfusion.serve.rest;

import io.freqfusion.serve.InferenceException;
import io.freqfusion.serve.InferenceService;
import io.freqfusion.serve.admission.MemoryBudget;
import io.freqfusion.serve.metrics.RequestRecorder;
import io.freqfusion.serve.metrics.ServeMetrics;
import io.freqfusion.serve.repository.ServedModel;
import io.freqfusion.serve.scheduling.InferenceJob;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The Open Inference Protocol v2 REST API (KServe / Triton): health, server and model metadata, model readiness
 * and inference, with JSON tensors and the binary tensor data extension.
 */
@Path("/v2")
@Tag(name = "OIP v2", description = "Open Inference Protocol v2 (KServe / NVIDIA Triton)")
public class OipResource {
    private static final Logger LOG = Logger.getLogger(OipResource.class);
    public static final String HEADER_LENGTH = "Inference-Header-Content-Length";
    public static final String SERVER_NAME = "freqfusion-serve";
    public static final String SERVER_VERSION = "0.1.0";
    public static final List<String> EXTENSIONS = List.of("binary_tensor_data");

    @Inject
    InferenceService service;

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Server metadata")
    public OipDto.ServerMetadata server() {
        return new OipDto.ServerMetadata(SERVER_NAME, SERVER_VERSION, EXTENSIONS);
    }

    @GET
    @Path("/health/live")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Server liveness (200 = live)")
    public OipDto.Live live() {
        return new OipDto.Live(true);
    }

    @GET
    @Path("/health/ready")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Server readiness: 200 when every model is loaded and warmed up, 400 otherwise (OIP: 4xx = false)")
    @APIResponse(responseCode = "200", description = "ready")
    @APIResponse(responseCode = "400", description = "not ready")
    public Response ready() {
        boolean r = service.repository().ready();
        return Response.status(r ? 200 : 400).entity(new OipDto.Ready(r)).type(MediaType.APPLICATION_JSON).build();
    }

    @GET
    @Path("/models/{model}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Model metadata (inputs/outputs with -1 for dynamic dims; state and reason when not READY)")
    public Response modelMetadata(@PathParam("model") String model) {
        return metadata(model, null);
    }

    @GET
    @Path("/models/{model}/versions/{version}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Model metadata of a version (the only version is \"1\")")
    public Response modelVersionMetadata(@PathParam("model") String model, @PathParam("version") String version) {
        return metadata(model, version);
    }

    @GET
    @Path("/models/{model}/ready")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Model readiness: 200 ready, 400 not ready, 404 unknown")
    public Response modelReady(@PathParam("model") String model) {
        return readiness(model, null);
    }

    @GET
    @Path("/models/{model}/versions/{version}/ready")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Model version readiness")
    public Response modelVersionReady(@PathParam("model") String model, @PathParam("version") String version) {
        return readiness(model, version);
    }

    @POST
    @Path("/models/{model}/infer")
    @Consumes(MediaType.WILDCARD)
    @Produces({MediaType.APPLICATION_JSON, MediaType.APPLICATION_OCTET_STREAM})
    @Blocking
    @Operation(summary = "Inference (JSON, or the binary tensor data extension with Inference-Header-Content-Length)")
    @RequestBody(content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = OipDto.InferRequestDoc.class)))
    @APIResponse(responseCode = "200", description = "outputs", content = @Content(mediaType = MediaType.APPLICATION_JSON,
            schema = @Schema(implementation = OipDto.InferResponseDoc.class)))
    @APIResponse(responseCode = "400", description = "invalid request", content = @Content(schema = @Schema(implementation = OipDto.Error.class)))
    @APIResponse(responseCode = "404", description = "unknown model or version")
    @APIResponse(responseCode = "413", description = "body or tensor over the configured limits")
    @APIResponse(responseCode = "429", description = "model queue full (Retry-After)")
    @APIResponse(responseCode = "503", description = "model not ready")
    @APIResponse(responseCode = "504", description = "request timed out")
    public CompletionStage<Response> infer(@PathParam("model") String model,
                                           @Parameter(description = "length of the JSON header when binary tensor data follows")
                                           @HeaderParam(HEADER_LENGTH) String headerLength, @Context RoutingContext rc, InputStream body) {
        return doInfer(model, null, headerLength, body, rc);
    }

    @POST
    @Path("/models/{model}/versions/{version}/infer")
    @Consumes(MediaType.WILDCARD)
    @Produces({MediaType.APPLICATION_JSON, MediaType.APPLICATION_OCTET_STREAM})
    @Blocking
    @Operation(summary = "Inference on a model version")
    public CompletionStage<Response> inferVersion(@PathParam("model") String model, @PathParam("version") String version,
                                                  @HeaderParam(HEADER_LENGTH) String headerLength, @Context RoutingContext rc, InputStream body) {
        return doInfer(model, version, headerLength, body, rc);
    }

    private Response metadata(String name, String version) {
        try {
            ServedModel m = service.find(name, version);
            List<OipDto.TensorMetadata> in = new ArrayList<>(), out = new ArrayList<>();
            m.inputs().forEach(t -> in.add(new OipDto.TensorMetadata(t.name(), t.datatype(), t.shape())));
            m.outputs().forEach(t -> out.add(new OipDto.TensorMetadata(t.name(), t.datatype(), t.shape())));
            return Response.ok(new OipDto.ModelMetadata(m.name(), List.of(ServedModel.VERSION), ServedModel.PLATFORM, in, out,
                    m.state().name(), m.reason(), m.isReady() ? m.maxBatchSize() : null)).type(MediaType.APPLICATION_JSON).build();
        } catch (InferenceException e) {
            return error(e);
        }
    }

    private Response readiness(String name, String version) {
        try {
            ServedModel m = service.find(name, version);
            return Response.status(m.isReady() ? 200 : 400).entity(new OipDto.Ready(m.isReady())).type(MediaType.APPLICATION_JSON).build();
        } catch (InferenceException e) {
            return error(e);
        }
    }

    private CompletionStage<Response> doInfer(String model, String version, String headerLength, InputStream body, RoutingContext rc) {
        byte[] b;
        try {
            b = requestBody(rc, body);
        } catch (IOException e) {
            return CompletableFuture.completedFuture(error(InferenceException.invalid("could not read the request body: " + e.getMessage())));
        }
        RequestRecorder rec = new RequestRecorder(service.metrics(), ServeMetrics.REST, service.metricModel(model), b.length);
        // the ticket opened by HttpGate before the body was read (released when the response is written)
        MemoryBudget.Ticket gate = rc == null ? null : rc.get(HttpGate.TICKET);
        MemoryBudget.Ticket ticket = gate != null ? gate : service.budget().open();
        String requestId = rc == null ? null : rc.get(HttpGate.REQUEST_ID);
        try {
            if (gate == null) ticket.reserve(MemoryBudget.REST_BODY_FACTOR * (long) b.length, "the request body");
            ServedModel m = service.resolve(model, version);
            OipRestCodec.Request req = OipRestCodec.parse(b, headerLength, service.config().limits().maxTensorElements());
            List<String> names = new ArrayList<>();
            Map<String, Boolean> binaryFlags = new HashMap<>();
            for (OipRestCodec.OutputRequest o : req.outputs()) {
                names.add(o.name());
                if (o.binary() != null) binaryFlags.put(o.name(), o.binary());
            }
            InferenceJob job = service.prepare(m, req.inputs(), names, ticket,
                    o -> binaryFlags.getOrDefault(o, req.binaryOutputDefault()), requestId);
            Set<String> binary = new LinkedHashSet<>();
            for (String o : job.outputs()) if (binaryFlags.getOrDefault(o, req.binaryOutputDefault())) binary.add(o);
            CompletableFuture<Response> result = service.submit(m, job, null).handleAsync((out, err) -> {
                if (err != null) return failed(rec, InferenceException.of(err));
                try {
                    OipRestCodec.Encoded enc = OipRestCodec.encode(m.name(), ServedModel.VERSION, req.id(), out, job.outputs(), binary);
                    rec.ok(enc.length());
                    // streamed with its length: written in the server's pooled network buffers, not copied whole
                    // into one array and then into one network buffer of its size
                    Response.ResponseBuilder rb = Response.ok((StreamingOutput) enc::writeTo).header("Content-Length", enc.length());
                    if (enc.headerLength() >= 0) {
                        rb.type(MediaType.APPLICATION_OCTET_STREAM).header(HEADER_LENGTH, enc.headerLength());
                    } else {
                        rb.type(MediaType.APPLICATION_JSON);
                    }
                    return rb.build();
                } catch (RuntimeException e) {
                    return failed(rec, InferenceException.of(e));
                }
            }, Infrastructure.getDefaultWorkerPool());
            rec.countCancellation(result); // Quarkus cancels the returned stage when the client goes away
            // without the gate's ticket the request's own closes with the stage it hands back (so also when that is
            // cancelled, which cancels a job still queued); a stage chained after it would take the cancellation alone
            if (gate == null) result.whenComplete((r, t) -> ticket.close());
            return result;
        } catch (RuntimeException e) {
            if (gate == null) ticket.close();
            return CompletableFuture.completedFuture(failed(rec, InferenceException.of(e)));
        }
    }

    /** The body HttpGate read (one array sized from Content-Length), else whatever the stream holds. */
    private static byte[] requestBody(RoutingContext rc, InputStream body) throws IOException {
        byte[] read = rc == null ? null : rc.get(HttpGate.BODY);
        if (read != null) return read;
        return body == null ? new byte[0] : body.readAllBytes();
    }

    private static Response failed(RequestRecorder rec, InferenceException e) {
        Response r = error(e);
        rec.failed(e, 0);
        return r;
    }

    /** The OIP error body {"error": "..."} with the status of the error kind (and Retry-After when retrying helps). */
    public static Response error(InferenceException e) {
        if (e.kind() == InferenceException.Kind.INTERNAL) LOG.error("inference failed: " + e.getMessage(), e.getCause());
        else LOG.debugf("request refused (%s): %s", e.kind(), e.getMessage());
        Response.ResponseBuilder rb = Response.status(e.kind().httpStatus).entity(new OipDto.Error(e.getMessage())).type(MediaType.APPLICATION_JSON);
        if (e.kind() == InferenceException.Kind.QUEUE_FULL || e.kind() == InferenceException.Kind.UNAVAILABLE) rb.header("Retry-After", "1");
        return rb.build();
    }
}
