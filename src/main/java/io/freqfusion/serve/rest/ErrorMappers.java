package io.freqfusion.serve.rest;

import io.freqfusion.serve.InferenceException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Errors escaping the resources become OIP error bodies: core IllegalArgumentExceptions are 400s. */
public class ErrorMappers {

    @ServerExceptionMapper
    public Response inference(InferenceException e) {
        return OipResource.error(e);
    }

    @ServerExceptionMapper
    public Response illegalArgument(IllegalArgumentException e) {
        return OipResource.error(InferenceException.of(e));
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        int status = e.getResponse() == null ? 500 : e.getResponse().getStatus();
        String msg = e.getMessage() == null ? Response.Status.fromStatusCode(status) + "" : e.getMessage();
        return Response.status(status).entity(new OipDto.Error(msg)).type(MediaType.APPLICATION_JSON).build();
    }
}
