package dev.arica.formats.hf;

import static dev.arica.formats.TestSupport.assertFormatError;
import static dev.arica.formats.TestSupport.bytesOf;
import static dev.arica.formats.TestSupport.f32;
import static dev.arica.formats.TestSupport.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.TestSupport.St;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfCheckpointTest {

    @TempDir
    Path tmp;

    private static final String S1 = "model-00001-of-00002.safetensors";
    private static final String S2 = "model-00002-of-00002.safetensors";

    /** A directory "ckpt" holding two valid shards (a, b in the first; c in the second) and the given index. */
    private Path sharded(String indexJson) throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("ckpt"));
        new St().tensor("a", DType.F32, shape(2), f32(1, 2)).tensor("b", DType.F32, shape(1), f32(3))
                .writeTo(dir.resolve(S1));
        new St().tensor("c", DType.F32, shape(1), f32(4)).writeTo(dir.resolve(S2));
        Files.writeString(dir.resolve(HfCheckpoint.INDEX), indexJson);
        return dir;
    }

    private static String index(String weightMap) {
        return "{\"metadata\":{\"total_size\":16},\"weight_map\":" + weightMap + "}";
    }

    private static final String GOOD_MAP = "{\"a\":\"" + S1 + "\",\"b\":\"" + S1 + "\",\"c\":\"" + S2 + "\"}";

    @Test
    void opensAValidShardedDirectory() throws Exception {
        Path dir = sharded(index(GOOD_MAP));
        Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"llama\"}");
        Files.writeString(dir.resolve("tokenizer.json"), "{}");
        try (HfCheckpoint c = HfCheckpoint.open(dir)) {
            assertEquals("hf-directory", c.format());
            assertEquals(2, c.shardCount());
            assertEquals(List.of("a", "b", "c"), c.tensors().stream().map(t -> t.name()).toList());
            assertArrayEquals(f32(4), bytesOf(c.tensor("c")));
            assertEquals(16, c.indexMetadata().orElseThrow().get("total_size").asLong());
            assertEquals("llama", c.config().orElseThrow().get("model_type").textValue());
            assertEquals(List.of("tokenizer.json"), c.auxFiles().stream().map(AuxFile::name).toList());
            assertEquals(2, c.dataFiles().size());
        }
    }

    @Test
    void locationsPointAtEachTensorsBytesInItsShard() throws Exception {
        Path dir = sharded(index(GOOD_MAP));
        try (HfCheckpoint c = HfCheckpoint.open(dir)) {
            for (String name : List.of("a", "b", "c")) {
                dev.arica.formats.io.FileRange r = c.location(name).orElseThrow();
                byte[] file = Files.readAllBytes(r.file());
                assertArrayEquals(bytesOf(c.tensor(name)), java.util.Arrays.copyOfRange(file, (int) r.offset(),
                        (int) (r.offset() + r.length())), name);
            }
            assertEquals(dir.resolve(S2), c.location("c").orElseThrow().file());
            assertTrue(c.location("missing").isEmpty());
        }
    }

    @Test
    void opensASingleFileDirectory() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("single"));
        new St().tensor("w", DType.F32, shape(1), f32(7)).writeTo(dir.resolve(HfCheckpoint.SINGLE));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals("hf-directory", c.format());
            assertTrue(c.config().isEmpty());
            assertArrayEquals(f32(7), bytesOf(c.tensor("w")));
            assertEquals(List.of(), c.auxFiles());
        }
    }

    @Test
    void shardNameThatIsAnAbsolutePathIsRefused() throws Exception {
        Path outside = new St().tensor("a", DType.F32, shape(2), f32(1, 2)).writeTo(tmp.resolve("outside.safetensors"));
        Path dir = sharded(index("{\"a\":\"" + outside.toAbsolutePath() + "\"}"));
        assertFormatError(dir.resolve(HfCheckpoint.INDEX), "a", () -> HfCheckpoint.open(dir),
                "shard name '" + outside.toAbsolutePath() + "'", "escapes the checkpoint directory");
    }

    @Test
    void shardNameWithDotDotIsRefused() throws Exception {
        new St().tensor("a", DType.F32, shape(2), f32(1, 2)).writeTo(tmp.resolve("outside.safetensors"));
        Path dir = sharded(index("{\"a\":\"../outside.safetensors\"}"));
        assertFormatError(dir.resolve(HfCheckpoint.INDEX), "a", () -> HfCheckpoint.open(dir),
                "shard name '../outside.safetensors'", "escapes the checkpoint directory");
    }

    @Test
    void shardNameWithDotDotInsideIsRefused() throws Exception {
        Path dir = sharded(index("{\"a\":\"sub/../" + S1 + "\"}"));
        assertFormatError(dir.resolve(HfCheckpoint.INDEX), "a", () -> HfCheckpoint.open(dir),
                "escapes the checkpoint directory");
    }

    @Test
    void missingShardIsRefused() throws Exception {
        Path dir = sharded(index("{\"a\":\"" + S1 + "\",\"b\":\"" + S1 + "\",\"c\":\"model-00003-of-00003.safetensors\"}"));
        assertFormatError(dir.resolve(HfCheckpoint.INDEX), "c", () -> HfCheckpoint.open(dir),
                "shard 'model-00003-of-00003.safetensors' does not exist");
    }

    @Test
    void tensorListedButMissingFromItsShardIsRefused() throws Exception {
        Path dir = sharded(index("{\"a\":\"" + S1 + "\",\"b\":\"" + S1 + "\",\"c\":\"" + S2 + "\",\"d\":\"" + S2 + "\"}"));
        assertFormatError(dir.resolve(HfCheckpoint.INDEX), "d", () -> HfCheckpoint.open(dir),
                "listed in weight_map but missing from shard '" + S2 + "'");
    }

    @Test
    void tensorInAShardButNotInWeightMapIsRefused() throws Exception {
        Path dir = sharded(index("{\"a\":\"" + S1 + "\",\"c\":\"" + S2 + "\"}"));
        Path shard = dir.toAbsolutePath().normalize().resolve(S1);
        assertFormatError(shard, "b", () -> HfCheckpoint.open(dir), "is in the shard but not in",
                HfCheckpoint.INDEX + "'s weight_map");
    }

    @Test
    void tensorStoredInTwoShardsIsRefused() throws Exception {
        Path dir = sharded(index(GOOD_MAP));
        new St().tensor("a", DType.F32, shape(2), f32(9, 9)).tensor("c", DType.F32, shape(1), f32(4))
                .writeTo(dir.resolve(S2));
        Path shard = dir.toAbsolutePath().normalize().resolve(S2);
        assertFormatError(shard, "a", () -> HfCheckpoint.open(dir), "weight_map assigns it to '" + S1 + "'");
    }

    @Test
    void weightMapNotAnObjectIsRefused() throws Exception {
        Path dir = sharded("{\"metadata\":{},\"weight_map\":[\"" + S1 + "\"]}");
        assertFormatError(dir.resolve(HfCheckpoint.INDEX), null, () -> HfCheckpoint.open(dir),
                "has no \"weight_map\" object");
    }

    @Test
    void weightMapMissingIsRefused() throws Exception {
        Path dir = sharded("{\"metadata\":{}}");
        assertFormatError(dir.resolve(HfCheckpoint.INDEX), null, () -> HfCheckpoint.open(dir),
                "has no \"weight_map\" object");
    }

    @Test
    void weightMapValueNotAStringIsRefused() throws Exception {
        Path dir = sharded(index("{\"a\":1}"));
        assertFormatError(dir.resolve(HfCheckpoint.INDEX), "a", () -> HfCheckpoint.open(dir),
                "weight_map value is not a file name");
    }

    @Test
    void indexMetadataNotAnObjectIsRefused() throws Exception {
        Path dir = sharded("{\"metadata\":7,\"weight_map\":" + GOOD_MAP + "}");
        assertFormatError(dir.resolve(HfCheckpoint.INDEX), null, () -> HfCheckpoint.open(dir),
                "\"metadata\" is not an object");
    }

    @Test
    void indexNotJsonIsRefused() throws Exception {
        Path dir = sharded("{\"weight_map\": {");
        assertFormatError(dir.resolve(HfCheckpoint.INDEX), null, () -> HfCheckpoint.open(dir), "not valid JSON");
    }

    @Test
    void brokenShardIsReportedAgainstTheShard() throws Exception {
        Path dir = sharded(index(GOOD_MAP));
        Files.write(dir.resolve(S2), new byte[] {1, 2, 3});
        assertFormatError(dir.toAbsolutePath().normalize().resolve(S2), null, () -> HfCheckpoint.open(dir),
                "shorter than the 8-byte header length");
    }

    @Test
    void configNotAnObjectIsRefused() throws Exception {
        Path dir = sharded(index(GOOD_MAP));
        Files.writeString(dir.resolve("config.json"), "[]");
        assertFormatError(dir.resolve("config.json"), null, () -> HfCheckpoint.open(dir), "is not a JSON object");
    }

    @Test
    void directoryWithoutModelOrIndexIsRefused() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("bare"));
        Files.writeString(dir.resolve("config.json"), "{}");
        assertFormatError(dir, null, () -> HfCheckpoint.open(dir), "no model.safetensors, model.safetensors.index.json, "
                + "pytorch_model.bin or pytorch_model.bin.index.json in this directory");
        // Weights of PyTorch are read when there are no safetensors, so a broken one is reported against its file.
        Files.writeString(dir.resolve("pytorch_model.bin"), "not a pickle we would read");
        assertFormatError(dir.resolve("pytorch_model.bin"), null, () -> HfCheckpoint.open(dir),
                "not a PyTorch checkpoint");
    }

    @Test
    void notADirectory() throws Exception {
        Path f = Files.writeString(tmp.resolve("file"), "x");
        assertThrows(NoSuchFileException.class, () -> HfCheckpoint.open(f));
        assertThrows(NoSuchFileException.class, () -> HfCheckpoint.open(tmp.resolve("absent")));
        assertFalse(Files.exists(tmp.resolve("absent")));
    }
}
