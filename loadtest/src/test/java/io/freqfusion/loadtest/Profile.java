package io.freqfusion.loadtest;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Load shapes shared by the Gatling simulations and the gRPC driver, as open-model arrival rates
 * (requests per second) over time. Every phase is bounded in time, so every run is bounded in request count.
 * System properties: -Dscenario=steady|ramp|spike|overload, -Drate (base rate, req/s), -Dduration (seconds).
 * <ul>
 *   <li>steady: {@code rate} for {@code duration} s</li>
 *   <li>ramp: 1 to 3 x {@code rate} linearly over {@code duration} s</li>
 *   <li>spike: {@code rate} for duration/3, 6 x {@code rate} for 5 s, {@code rate} for the rest</li>
 *   <li>overload: 6 x {@code rate} for {@code duration} s (far above capacity: expect 429, never 5xx)</li>
 * </ul>
 */
public record Profile(String scenario, double rate, int durationSeconds, List<Phase> phases) {

    /** A phase: arrival rate going linearly from {@code from} to {@code to} req/s over {@code seconds}. */
    public record Phase(double from, double to, int seconds) {
    }

    public static Profile fromSystemProperties(double defaultRate) {
        String scenario = System.getProperty("scenario", "steady").toLowerCase(Locale.ROOT);
        double rate = Double.parseDouble(System.getProperty("rate", String.valueOf(defaultRate)));
        int duration = Integer.parseInt(System.getProperty("duration", "45"));
        if (duration <= 0 || duration > 600) throw new IllegalArgumentException("duration must be 1..600 s");
        if (rate <= 0 || rate > 500) throw new IllegalArgumentException("rate must be in (0, 500] req/s");
        List<Phase> p = new ArrayList<>();
        switch (scenario) {
            case "steady" -> p.add(new Phase(rate, rate, duration));
            case "ramp" -> p.add(new Phase(1, rate * 3, duration));
            case "spike" -> {
                int before = Math.max(5, duration / 3);
                p.add(new Phase(rate, rate, before));
                p.add(new Phase(rate * 6, rate * 6, 5));
                p.add(new Phase(rate, rate, Math.max(5, duration - before - 5)));
            }
            case "overload" -> p.add(new Phase(rate * 6, rate * 6, duration));
            default -> throw new IllegalArgumentException("unknown scenario " + scenario + " (steady, ramp, spike, overload)");
        }
        return new Profile(scenario, rate, duration, List.copyOf(p));
    }

    /** Whether HTTP 429 / RESOURCE_EXHAUSTED is an expected answer in this scenario. */
    public boolean expectsRejections() {
        return scenario.equals("overload") || scenario.equals("spike");
    }

    public long expectedRequests() {
        double n = 0;
        for (Phase ph : phases) n += (ph.from() + ph.to()) / 2 * ph.seconds();
        return Math.round(n);
    }

    @Override
    public String toString() {
        return scenario + " (base rate " + rate + " req/s, phases " + phases + ", ~" + expectedRequests() + " requests)";
    }
}
