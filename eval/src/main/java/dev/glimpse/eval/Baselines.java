package dev.glimpse.eval;

import java.util.List;

/** Published ScienceQA test accuracies (Avg, %) to read Glimpse's numbers against, each with its source. */
public final class Baselines {
    private Baselines() {}

    public record Baseline(String method, double average, String source) {}

    public static final List<Baseline> PUBLISHED = List.of(
            new Baseline("Human", 88.40, "Lu et al., NeurIPS 2022 (ScienceQA), Table 4"),
            new Baseline("GPT-3 CoT (QCM→ALE, 2-shot)", 75.17, "Lu et al., NeurIPS 2022 (ScienceQA), Table 4"),
            new Baseline("LLaMA-Adapter", 85.19, "Zhang et al., 2023 (LLaMA-Adapter), Table 3"),
            new Baseline("LLaVA", 90.92, "Liu et al., NeurIPS 2023 (Visual Instruction Tuning), Table 7"),
            new Baseline("LLaVA + GPT-4 (judge)", 92.53, "Liu et al., NeurIPS 2023 (Visual Instruction Tuning), Table 7"),
            new Baseline("MM-CoT (Large)", 91.68, "Zhang et al., 2023 (Multimodal Chain-of-Thought), Table 4"));
}
