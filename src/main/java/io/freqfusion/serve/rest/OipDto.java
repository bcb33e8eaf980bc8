package io.freqfusion.serve.rest;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

import java.util.List;

/** JSON shapes of the OIP v2 REST metadata and health responses (also documented in the OpenAPI document). */
public final class OipDto {
    private OipDto() {}

    @Schema(description = "OIP v2 server metadata")
    public record ServerMetadata(String name, String version, List<String> extensions) {}

    @Schema(description = "OIP v2 tensor metadata; -1 marks a dynamic dimension")
    public record TensorMetadata(String name, String datatype, long[] shape) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @Schema(description = "OIP v2 model metadata, plus the model's state (LOADING, READY, UNAVAILABLE), the reason when UNAVAILABLE, "
            + "and the batching limit")
    public record ModelMetadata(String name, List<String> versions, String platform, List<TensorMetadata> inputs,
                                List<TensorMetadata> outputs, String state, String reason,
                                @JsonProperty("max_batch_size") Integer maxBatchSize) {}

    @Schema(description = "OIP v2 error")
    public record Error(String error) {}

    @Schema(description = "Liveness")
    public record Live(boolean live) {}

    @Schema(description = "Readiness")
    public record Ready(boolean ready) {}

    @Schema(description = "OIP v2 inference request (JSON form; the binary tensor data extension appends raw tensor bytes after "
            + "Inference-Header-Content-Length bytes of this JSON)")
    public record InferRequestDoc(String id, List<InferInputDoc> inputs, List<RequestedOutputDoc> outputs, Object parameters) {}

    @Schema(description = "An input tensor: flat row-major data, or parameters.binary_data_size with the binary extension")
    public record InferInputDoc(String name, String datatype, long[] shape, Object parameters, float[] data) {}

    @Schema(description = "A requested output; parameters.binary_data=true returns it as raw bytes")
    public record RequestedOutputDoc(String name, Object parameters) {}

    @Schema(description = "OIP v2 inference response")
    public record InferResponseDoc(@JsonProperty("model_name") String modelName, @JsonProperty("model_version") String modelVersion,
                                   String id, List<InferInputDoc> outputs) {}
}
