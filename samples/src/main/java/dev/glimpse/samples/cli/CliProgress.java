package dev.glimpse.samples.cli;

import dev.glimpse.core.Progress;
import java.time.Duration;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A progress bar with rate and ETA on stderr, fed by the library's {@link Progress} callbacks. */
final class CliProgress implements Progress, AutoCloseable {
    private final ProgressBar bar;

    CliProgress(String task, long total, String unit) {
        // bars are for people at a terminal; logs and pipes (CI, tests) get none
        if (System.console() == null && System.getenv("GLIMPSE_PROGRESS") == null) {
            bar = null;
            return;
        }
        bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setUnit(" " + unit, 1).showSpeed()
                .setUpdateIntervalMillis(500).setConsumer(new ConsoleProgressBarConsumer(System.err))
                .startsFrom(0, Duration.ZERO).build();
    }

    /** Download progress for the model repository: one bar per file, in MiB. */
    static Progress downloads() {
        return new Progress() {
            private String file;
            private CliProgress bar;

            @Override
            public synchronized void update(long done, long total, String status) {
                if (!status.equals(file)) {
                    if (bar != null) {
                        bar.close();
                    }
                    file = status;
                    bar = new CliProgress(status, Math.max(total, 0) >> 20, "MiB");
                }
                bar.update(done >> 20, Math.max(total, 0) >> 20, "");
                if (total >= 0 && done >= total) {
                    bar.close();
                    bar = null;
                    file = null;
                }
            }
        };
    }

    @Override
    public void update(long done, long total, String status) {
        if (bar == null) {
            return;
        }
        if (total != bar.getMax()) {
            bar.maxHint(total);
        }
        bar.stepTo(done);
        if (status != null && !status.isEmpty()) {
            bar.setExtraMessage(" " + status);
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
