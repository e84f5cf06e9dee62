package dev.glimpse.training;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * A run's wall-clock budget: it measures the steps, plans how many fit once a few are measured, and says when the
 * next step would overrun. A run that must stop before the plan was made has its plan cut to the steps it took, so
 * the plan a result reports is always one the budget allowed. The clock is injectable, so tests drive it exactly.
 */
final class TimeBudget {
    /** Steps measured before the plan is made: the first ones carry warm-up costs, so one is not enough. */
    static final int MEASURED_STEPS = 3;

    private final Duration limit;
    private final LongSupplier nanos;
    private final long start;
    private final int firstStep;
    private boolean planMade;
    private double elapsed;
    private double perStep;

    /** Starts the clock of a run whose first step (0, or where a resumed run continues) is {@code firstStep}. */
    TimeBudget(Duration limit, LongSupplier nanos, int firstStep) {
        this.limit = limit;
        this.nanos = nanos;
        this.start = nanos.getAsLong();
        this.firstStep = firstStep;
    }

    /** Reads the clock after {@code step} steps; returns the seconds since the start. */
    double observe(int step) {
        elapsed = (nanos.getAsLong() - start) / 1e9;
        perStep = elapsed / Math.max(1, step - firstStep);
        return elapsed;
    }

    /**
     * The plan after {@code step} steps: unchanged without a limit or before {@link #MEASURED_STEPS} are measured;
     * then, once, as many steps as fit the remaining budget at the measured speed (never fewer than taken).
     */
    int plan(int step, int planned) {
        if (limit == null || planMade || step - firstStep < MEASURED_STEPS) {
            return planned;
        }
        planMade = true;
        int fit = step + (int) Math.floor((seconds(limit) - elapsed) / perStep);
        return fit < planned ? Math.max(step, fit) : planned;
    }

    /**
     * The plan of a run that stops for time after {@code step} steps: the plan made, or, when the budget ran out
     * before it could be made, the steps taken.
     */
    int stopped(int step, int planned) {
        return planMade ? planned : step;
    }

    /** Whether the next step would end past the budget. */
    boolean exhausted() {
        return limit != null && elapsed + perStep > seconds(limit);
    }

    /** Seconds since the start, read now. */
    double seconds() {
        return (nanos.getAsLong() - start) / 1e9;
    }

    private static double seconds(Duration d) {
        return d.toMillis() / 1000.0;
    }
}
