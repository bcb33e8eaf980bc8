package io.freqfusion.serve.health;

import io.freqfusion.serve.repository.ModelRepository;
import io.freqfusion.serve.repository.ServedModel;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/** /q/health/ready: UP exactly when /v2/health/ready says ready (every model loaded and warmed up); per-model states as data. */
@Readiness
@ApplicationScoped
public class ModelsReadinessCheck implements HealthCheck {
    @Inject
    ModelRepository repository;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder b = HealthCheckResponse.named("freqfusion-models").status(repository.ready());
        for (ServedModel m : repository.all()) {
            b.withData(m.name(), m.state().name() + (m.reason() != null ? ": " + m.reason() : ""));
        }
        return b.build();
    }
}
