package dev.arica.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arica.formats.io.Json;
import dev.arica.formats.model.ConfigFields;
import dev.arica.formats.model.Families;
import dev.arica.formats.model.Family;
import dev.arica.formats.model.ModelDescription;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** config.json read into each family's typed configuration and tensor table (seeds: every bundled family's config). */
class ConfigFuzzTest {

    private static final ReaderProperty PROPERTY = ReaderProperty.alone();

    private static final String FILE = "config.json";

    @FuzzTest(maxDuration = ReaderProperty.CI_DURATION)
    void config(byte[] data) throws Exception {
        PROPERTY.check(FILE, data, ConfigFuzzTest::read);
    }

    @Test
    void seedsAreReadWithoutError() throws Exception {
        PROPERTY.seedsRead(getClass(), "config", FILE, ConfigFuzzTest::read);
    }

    private static void read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        ConfigFields cfg = new ConfigFields(file, Json.readObjectFile(file));
        Family<?> family = Families.of(cfg, "fuzzing");
        ModelDescription d = family.describe(cfg, new Family.TokenIds(null, cfg.tokenIds("eos_token_id")), Set.of());
        d.tensors();
        d.config();
    }
}
