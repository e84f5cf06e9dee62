package dev.glimpse.training;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.Precision;
import java.time.Duration;

/**
 * Hyper-parameters and bookkeeping of an adapter training run. Defaults follow LLaVA's projector pre-training
 * (lr 1e-3, no weight decay, 3 % warmup, cosine) scaled for small batches.
 *
 * <p>{@code dataType} is the compute type of the frozen LLM and the activations (fp32, fp16 or bf16; null: the
 * type the LLM was loaded in, which must then match). Trainable parameters always stay fp32 master weights with fp32
 * AdamW moments, and the loss is taken in fp32; fp16 adds dynamic loss scaling ({@link LossScaler}) from
 * {@code initialLossScale}, doubling after {@code lossScaleGrowthInterval} good steps. {@code activationCheckpointing}
 * keeps only each LLM layer's input through the forward pass and recomputes the layer in the backward (one more
 * forward's time for activations of one layer instead of all): for the largest models.
 */
public record TrainingOptions(int batchSize, int gradientAccumulation, double learningRate, double weightDecay,
                              double beta1, double beta2, double eps, double warmupRatio, double clipNorm,
                              int epochs, int maxSteps, Duration timeLimit, long seed, int checkpointEvery,
                              int evalEvery, int logEvery, double llmAdapterLearningRate, boolean endOfSequence,
                              DataType dataType, double initialLossScale, int lossScaleGrowthInterval,
                              boolean activationCheckpointing) {
    public TrainingOptions {
        if (dataType != null && dataType != DataType.FLOAT32 && dataType != DataType.FLOAT16
                && dataType != DataType.BFLOAT16) {
            throw new IllegalArgumentException("training computes in fp32, fp16 or bf16, not " + dataType);
        }
        if (!(initialLossScale > 0) || lossScaleGrowthInterval < 1) {
            throw new IllegalArgumentException("loss scale must be > 0 and its growth interval >= 1");
        }
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

    /** The compute type when none is asked for: bf16 on a GPU (fp16 where the JNI has no bf16), fp32 on a CPU. */
    public static DataType defaultDataType(Device device) {
        if (!device.isGpu()) {
            return DataType.FLOAT32;
        }
        return Precision.bfloat16Available() ? DataType.BFLOAT16 : DataType.FLOAT16;
    }

    /** The loss scaler this run needs: dynamic for fp16, none otherwise. */
    LossScaler lossScaler(DataType compute) {
        return compute == DataType.FLOAT16 ? LossScaler.dynamic(initialLossScale, lossScaleGrowthInterval)
                : LossScaler.disabled();
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
        private DataType dataType;
        private double lossScale = 65536;
        private int lossScaleInterval = 2000;
        private boolean checkpointing;

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

        /** Compute type: FLOAT32, FLOAT16 (with loss scaling) or BFLOAT16; default the LLM's. */
        public Builder dataType(DataType type) {
            this.dataType = type;
            return this;
        }

        /** fp16's initial loss scale and the good steps after which it doubles (default 65536 and 2000). */
        public Builder lossScale(double initial, int growthInterval) {
            this.lossScale = initial;
            this.lossScaleInterval = growthInterval;
            return this;
        }

        /** Recompute each frozen LLM layer in the backward instead of keeping its activations (default off). */
        public Builder activationCheckpointing(boolean on) {
            this.checkpointing = on;
            return this;
        }

        public TrainingOptions build() {
            return new TrainingOptions(batchSize, accumulation, lr, weightDecay, beta1, beta2, eps, warmup, clip,
                    epochs, maxSteps, timeLimit, seed, checkpointEvery, evalEvery, logEvery, llmLr, endOfSequence,
                    dataType, lossScale, lossScaleInterval, checkpointing);
        }
    }
}
