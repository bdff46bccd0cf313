package dev.arica.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.arica.formats.FormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenAiConfigTest {
    @TempDir
    Path dir;

    static final String MINIMAL = """
            {"num_layers": 5, "num_kv_heads": 4, "head_dim": 8, "vocab_size": 512, "eos_token_ids": [2, 1], "dtype": "float32"}""";

    GenAiConfig read(String json) throws Exception {
        Path f = dir.resolve(GenAiConfig.FILE);
        Files.writeString(f, json);
        return GenAiConfig.read(f);
    }

    @Test
    void minimalFileGetsTheConventionalNames() throws Exception {
        GenAiConfig c = read(MINIMAL);
        assertEquals(5, c.numLayers());
        assertEquals(4, c.numKvHeads());
        assertEquals(8, c.headDim());
        assertEquals(512, c.vocabSize());
        assertArrayEquals(new int[] {2, 1}, c.eosTokenIds());
        assertEquals(-1, c.bosTokenId());
        assertEquals(0, c.contextLength());
        assertEquals("model.onnx", c.model());
        assertNull(c.tokenizer());
        assertEquals(GenAiConfig.Inputs.DEFAULT, c.inputs());
        assertEquals("past_key_values.3.key", c.pastKey(3));
        assertEquals("past_key_values.0.value", c.pastValue(0));
        assertEquals("present.4.key", c.presentKey(4));
        assertEquals("present.4.value", c.presentValue(4));
        assertEquals("logits", c.outputs().logits());
    }

    @Test
    void everyFieldRead() throws Exception {
        GenAiConfig c = read("""
                {"model": "decoder.onnx", "tokenizer": "tokenizer.json", "num_layers": 2, "num_kv_heads": 1, "head_dim": 64,
                 "vocab_size": 100, "context_length": 2048, "bos_token_id": 7, "eos_token_ids": [9], "dtype": "float16",
                 "inputs": {"input_ids": "ids", "attention_mask": null, "position_ids": "pos", "past_key": "k{i}", "past_value": "v{i}"},
                 "outputs": {"logits": "out", "present_key": "nk{i}", "present_value": "nv{i}"}, "exporter": "ignored"}""");
        assertEquals("decoder.onnx", c.model());
        assertEquals("tokenizer.json", c.tokenizer());
        assertEquals(2048, c.contextLength());
        assertEquals(7, c.bosTokenId());
        assertEquals("float16", c.dtype());
        assertEquals(new GenAiConfig.Inputs("ids", null, "pos", "k{i}", "v{i}"), c.inputs());
        assertEquals("k1", c.pastKey(1));
        assertEquals("nv0", c.presentValue(0));
        assertEquals("out", c.outputs().logits());
    }

    void assertRefused(String json, String problem) throws Exception {
        Path f = dir.resolve(GenAiConfig.FILE);
        Files.writeString(f, json);
        FormatException e = assertThrows(FormatException.class, () -> GenAiConfig.read(f));
        assertEquals(f + ": " + problem, e.getMessage());
    }

    @Test
    void aRecurrentStateIsReadAndCheckedEntryByEntry() throws Exception {
        String recurrent = """
                {"num_layers": 1, "vocab_size": 10, "eos_token_ids": [3], "dtype": "float32",
                 "inputs": {"attention_mask": null, "position_ids": null},
                 "state": [{"input": "h_in", "output": "h_out", "shape": [1, "batch_size", 4]},
                           {"input": "k_in", "output": "k_out", "shape": ["batch_size", "past_sequence_length", 2]}]}""";
        GenAiConfig c = read(recurrent);
        assertEquals(2, c.states().size());
        assertArrayEquals(new long[] {1, 1, 4}, c.states().get(0).shapeAt(9), "no growing axis");
        assertArrayEquals(new long[] {1, 9, 2}, c.states().get(1).shapeAt(9));
        assertRefused(recurrent.replace("\"k_in\"", "\"h_in\""), "state[1] names 'h_in', which another state entry names too");
        assertRefused(recurrent.replace("[1, \"batch_size\", 4]", "[1, \"batch_size\", 0]"),
                "state[0].shape[2] 0 is not a positive size, \"batch_size\" or (once) \"past_sequence_length\"");
        assertRefused(recurrent.replace("\"batch_size\", \"past_sequence_length\", 2", "\"past_sequence_length\", "
                + "\"past_sequence_length\", 2"), "state[1].shape[1] \"past_sequence_length\" is not a positive size, "
                + "\"batch_size\" or (once) \"past_sequence_length\"");
        assertRefused(recurrent.replace(", \"output\": \"h_out\"", ""), "state[0].output is missing");
        assertRefused(recurrent.replace("\"state\": [", "\"state\": 7, \"x\": ["),
                "state must be a non-empty array of {input, output, shape}");
    }

    @Test
    void aModelWithoutStopTokensHasAnEmptyList() throws Exception {
        assertEquals(0, read(MINIMAL.replace("[2, 1]", "[]")).eosTokenIds().length);
    }

    @Test
    void badFilesAreRefusedNamingTheField() throws Exception {
        assertRefused(MINIMAL.replace("\"num_layers\": 5, ", ""), "num_layers is missing");
        assertRefused(MINIMAL.replace("\"num_layers\": 5", "\"num_layers\": 0"), "num_layers is 0, not a positive integer");
        // found writing its fuzz target, kept in its corpus: 2e9 layers ran out of memory naming each layer's cache tensors
        assertRefused(MINIMAL.replace("\"num_layers\": 5", "\"num_layers\": 2000000000"),
                "num_layers is 2000000000, more than the 4096 layers arica accepts");
        assertRefused(MINIMAL.replace("\"head_dim\": 8", "\"head_dim\": \"8\""), "head_dim is \"8\", not a positive integer");
        assertRefused(MINIMAL.replace("[2, 1]", "2"), "eos_token_ids must be an array of token ids (empty when the model has none)");
        assertRefused(MINIMAL.replace("[2, 1]", "[2, 512]"), "eos_token_ids[1] 512 is not below vocab_size 512");
        assertRefused(MINIMAL.replace("float32", "int8"), "dtype 'int8' is not one of float32, float16, bfloat16");
        assertRefused(MINIMAL.replace(", \"dtype\": \"float32\"", ""), "dtype is missing");
        assertRefused(MINIMAL.replace("}", ", \"model\": \"../x.onnx\"}"), "'../x.onnx' must be a file name in the model's directory");
        assertRefused(MINIMAL.replace("}", ", \"inputs\": {\"past_key\": \"past.key\"}}"),
                "inputs.past_key 'past.key' must contain {i} for the layer number");
        assertRefused(MINIMAL.replace("}", ", \"outputs\": {\"logits\": null}}"), "outputs.logits is null, not a non-empty string");
        assertRefused(MINIMAL.replace("}", ", \"inputs\": []}"), "inputs is [], not an object");
        assertRefused(MINIMAL.replace("}", ", \"bos_token_id\": -1}"), "bos_token_id is -1, not a non-negative integer");
        assertRefused(MINIMAL.replace("}", ", \"format\": \"arica-genai\", \"format_version\": 1}"),
                "was written by an older arica export (format_version 1, other key names); export the model again");
        assertRefused("[1]", "is not a JSON object");
        assertRefused(MINIMAL.replace("}", ", \"dtype\": \"float16\"}"), "content names 'dtype' twice");
    }
}
