package dev.glimpse.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class GenerateCommandTest {
    static final String MODEL = "demo-kit/stories260k";

    @Test
    void streamsTextFromAPrompt() {
        CliRunner r = CliRunner.run("generate", "--model", MODEL, "--prompt", "Once upon a time", "--max-new-tokens", "10");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith(", there was a little girl named Lily"), r.out());
    }

    @Test
    void jsonHoldsOnlyTheNewIds() throws Exception {
        CliRunner r = CliRunner.run("generate", "--model", MODEL, "--input-ids", "1,403,407,261,378",
                "--max-new-tokens", "5", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("[1,403,407,261,378]", j.get("input_ids").toString());
        assertEquals("[432,383,286,261,376]", j.get("output_ids").toString());
        assertEquals(", there was a little", j.get("text").asText());
    }

    @Test
    void dtypeRunsTheDjlEngineInThatTypeAndIsRefusedWhereItCannot() throws Exception {
        // fp16 on the CPU: the first greedy tokens of stories260k survive fp16's rounding (fp32: 432,383,286,261,376)
        CliRunner r = CliRunner.run("generate", "--model", MODEL, "--input-ids", "1,403,407,261,378",
                "--max-new-tokens", "5", "--json", "--dtype", "fp16");
        assertEquals(0, r.code(), r.err());
        assertEquals("[432,383,286,261,376]", new ObjectMapper().readTree(r.out()).get("output_ids").toString());
        r = CliRunner.run("generate", "--model", MODEL, "--input-ids", "1", "--engine", "onnx", "--dtype", "fp16");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--dtype is the DJL engine's; the onnx engine takes --weights"), r.err());
        if (!dev.glimpse.core.Precision.bfloat16Available()) {
            r = CliRunner.run("generate", "--model", MODEL, "--input-ids", "1", "--dtype", "bf16");
            assertEquals(2, r.code());
            assertTrue(r.err().contains("bf16 needs DJL's PyTorch JNI built with Glimpse's extension"), r.err());
        }
    }

    @Test
    void samplingIsRepeatableAndBadInputIsExit2() {
        String[] args = {"generate", "--model", MODEL, "--prompt", "The dog", "--temperature", "0.8", "--top-p", "0.9",
            "--seed", "5", "--max-new-tokens", "15", "--json"};
        assertEquals(CliRunner.run(args).out(), CliRunner.run(args).out());
        CliRunner r = CliRunner.run("generate", "--model", MODEL, "--input-ids", "1,99999");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("outside the vocabulary"), r.err());
        r = CliRunner.run("generate", "--model", MODEL);
        assertEquals(2, r.code());
        r = CliRunner.run("generate", "--model", "no/such-dir-here", "--prompt", "x");
        assertTrue(r.code() != 0);
    }

    @Test
    void theOnnxEngineGeneratesTheSameTokensAndWrongCombinationsAreExit2() throws Exception {
        String[] args = {"generate", "--model", MODEL, "--input-ids", "1,403,407,261,378", "--max-new-tokens", "5",
            "--json", "--engine", "onnx"};
        CliRunner r = CliRunner.run(args);
        assertEquals(0, r.code(), r.err());
        assertEquals("[432,383,286,261,376]", new ObjectMapper().readTree(r.out()).get("output_ids").toString());
        CliRunner q = CliRunner.run("generate", "--model", MODEL, "--prompt", "Once upon a time", "--max-new-tokens",
                "10", "--weights", "int8", "--json");
        assertEquals(0, q.code(), q.err());
        assertEquals(10, new ObjectMapper().readTree(q.out()).get("output_ids").size());
        q = CliRunner.run("generate", "--model", MODEL, "--prompt", "Once upon a time", "--max-new-tokens", "10",
                "--weights", "int8", "--accuracy-level", "4", "--json");
        assertEquals(0, q.code(), q.err());
        assertEquals(10, new ObjectMapper().readTree(q.out()).get("output_ids").size());
        CliRunner level = CliRunner.run("generate", "--model", MODEL, "--prompt", "x", "--engine", "onnx",
                "--accuracy-level", "4");
        assertEquals(2, level.code());
        assertTrue(level.err().contains("applies to int8 / int4 weights, not fp32"), level.err());
        level = CliRunner.run("generate", "--model", MODEL, "--prompt", "x", "--weights", "int4", "--accuracy-level",
                "2");
        assertEquals(2, level.code());
        assertTrue(level.err().contains("1 (fp32 activations) or 4 (int8 activations), not 2"), level.err());
        CliRunner bad = CliRunner.run("generate", "--model", MODEL, "--prompt", "x", "--engine", "djl", "--weights",
                "int4");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("needs --engine onnx"), bad.err());
        bad = CliRunner.run("generate", "--model", MODEL, "--prompt", "x", "--weights", "q4_k_m");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("expected fp32, fp16, int8 or int4"), bad.err());
    }
}
