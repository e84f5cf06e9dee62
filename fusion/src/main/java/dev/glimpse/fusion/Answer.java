package dev.glimpse.fusion;

import java.util.Map;

/**
 * The model's answer: the text (the chosen option, or generated text), its letter and index when choices were
 * given (else null and −1), the probability of each letter (softmax of the options' log-likelihoods), and those
 * log-likelihoods.
 */
public record Answer(String text, String letter, int index, Map<String, Double> probabilities,
                     double[] logLikelihoods) {}
