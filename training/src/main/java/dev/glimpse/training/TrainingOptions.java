package dev.glimpse.training;

import java.time.Duration;

/**
 * Hyper-parameters and bookkeeping of an adapter training run. Defaults follow LLaVA's projector pre-training
 * (lr 1e-3, no weight decay, 3 % warmup, cosine) scaled for small batches.
 */
public record TrainingOptions(int batchSize, int gradientAccumulation, double learningRate, double weightDecay,
                              double beta1, double beta2, double eps, double warmupRatio, double clipNorm,
                              int epochs, int maxSteps, Duration timeLimit, long seed, int checkpointEvery,
                              int evalEvery, int logEvery, double llmAdapterLearningRate, boolean endOfSequence) {
    public TrainingOptions {
        if (Double.isNaN(llmAdapterLearningRate)) {
            llmAdapterLearningRate = learningRate;
        }
        if (batchSize < 1 || gradientAccumulation < 1) {
            throw new IllegalArgumentException("batch size and gradient accumulation must be >= 1");
        }
        if (!(learningRate > 0)) {
            throw new IllegalArgumentException("learning rate must be > 0, got " + learningRate);
        }
        if (epochs < 1 && maxSteps < 1) {
            throw new IllegalArgumentException("give epochs or max steps");
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Examples per optimizer step. */
    public int effectiveBatch() {
        return batchSize * gradientAccumulation;
    }

    public static final class Builder {
        private int batchSize = 8;
        private int accumulation = 1;
        private double lr = 1e-3;
        private double weightDecay = 0.0;
        private double beta1 = 0.9;
        private double beta2 = 0.999;
        private double eps = 1e-8;
        private double warmup = 0.03;
        private double clip = 1.0;
        private int epochs = 1;
        private int maxSteps = -1;
        private Duration timeLimit;
        private long seed = 42;
        private int checkpointEvery = 100;
        private int evalEvery = 0;
        private int logEvery = 1;
        private double llmLr = Double.NaN;
        private boolean endOfSequence = true;

        public Builder batchSize(int b) {
            this.batchSize = b;
            return this;
        }

        public Builder gradientAccumulation(int n) {
            this.accumulation = n;
            return this;
        }

        public Builder learningRate(double lr) {
            this.lr = lr;
            return this;
        }

        public Builder weightDecay(double wd) {
            this.weightDecay = wd;
            return this;
        }

        public Builder betas(double b1, double b2) {
            this.beta1 = b1;
            this.beta2 = b2;
            return this;
        }

        public Builder eps(double e) {
            this.eps = e;
            return this;
        }

        /** Fraction of the planned steps spent warming up linearly. */
        public Builder warmupRatio(double r) {
            this.warmup = r;
            return this;
        }

        /** Global gradient-norm clip; 0 disables it. */
        public Builder clipNorm(double c) {
            this.clip = c;
            return this;
        }

        public Builder epochs(int e) {
            this.epochs = e;
            return this;
        }

        /** Stop after this many optimizer steps (overrides epochs when positive). */
        public Builder maxSteps(int s) {
            this.maxSteps = s;
            return this;
        }

        /** Plan the steps to fit this budget and stop cleanly when it runs out. */
        public Builder timeLimit(Duration d) {
            this.timeLimit = d;
            return this;
        }

        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        public Builder checkpointEvery(int n) {
            this.checkpointEvery = n;
            return this;
        }

        public Builder evalEvery(int n) {
            this.evalEvery = n;
            return this;
        }

        public Builder logEvery(int n) {
            this.logEvery = n;
            return this;
        }

        /** Learning rate of LoRA and adaption prompts inside the LLM (default: the projector's). */
        public Builder llmAdapterLearningRate(double lr) {
            this.llmLr = lr;
            return this;
        }

        /** Train an end-of-sequence token after each answer (default, as LLaVA); see {@link BatchBuilder}. */
        public Builder endOfSequence(boolean eos) {
            this.endOfSequence = eos;
            return this;
        }

        public TrainingOptions build() {
            return new TrainingOptions(batchSize, accumulation, lr, weightDecay, beta1, beta2, eps, warmup, clip,
                    epochs, maxSteps, timeLimit, seed, checkpointEvery, evalEvery, logEvery, llmLr, endOfSequence);
        }
    }
}
