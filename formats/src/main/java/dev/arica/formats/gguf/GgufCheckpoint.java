package dev.arica.formats.gguf;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.FormatException;
import dev.arica.formats.QuantizedCheckpoint;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorIndex;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.io.Json;
import dev.arica.formats.llama2c.RotaryPermutation;
import dev.arica.formats.quant.BlockDequantizer;
import dev.arica.formats.quant.QuantLayout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * A GGUF file presented as the Hugging Face checkpoint it was made from. For the {@code llama} architecture: tensors
 * carry HF names ({@link GgufTensorNames}), shapes outermost first, the query and key rows back in HF's rotary order
 * (the inverse of llama.cpp's per-head permutation, {@link RotaryPermutation}, as views of the mapped rows), a
 * config.json rebuilt from the metadata; for any other architecture the tensors keep their GGUF names and there is
 * no config. The vocabulary travels as a rebuilt tokenizer.json ({@link GgufTokenizer}) with a
 * generation_config.json of its special ids.
 *
 * <p>F32, F16 and BF16 tensors are mapped, never copied. Q8_0 and Q4_0 matrices are arica's q8_0 and q4_0 rows byte
 * for byte: {@link #quantizedStorage} and {@link #stored} hand them to quantize and export as they are, while
 * {@link #tensor} gives their values as float32, as it does for the other types arica dequantizes (Q4_1, Q5_0, Q5_1,
 * Q4_K, Q5_K, Q6_K, Q8_K), exactly as GGML computes them. Any other type is listed, and refused when read.
 */
public final class GgufCheckpoint implements QuantizedCheckpoint {
    /** What {@link #format()} says. */
    public static final String FORMAT = "gguf";
    public static final String TOKENIZER_FILE = "tokenizer.json";
    public static final String GENERATION_CONFIG = "generation_config.json";

    /** A tensor: as stored, as presented, and the stored row of each presented row when they differ (else null). */
    private record Entry(GgufTensor stored, TensorInfo info, int[] rowMap) {}

    private final GgufFile file;
    private final Map<String, Entry> entries;
    private final List<TensorInfo> infos;
    private final ObjectNode config;
    private final List<AuxFile> aux;
    private final String tokenizerProblem;
    private final Map<String, String> metadata;

    private GgufCheckpoint(GgufFile file, Map<String, Entry> entries, ObjectNode config, List<AuxFile> aux,
            String tokenizerProblem) {
        this.file = file;
        this.entries = entries;
        this.infos = entries.values().stream().map(Entry::info).toList();
        this.config = config;
        this.aux = aux;
        this.tokenizerProblem = tokenizerProblem;
        Map<String, String> meta = new LinkedHashMap<>();
        file.metadata().values().forEach((k, v) -> meta.put(k, v.toString()));
        this.metadata = Collections.unmodifiableMap(meta);
    }

    public static GgufCheckpoint open(Path path) throws IOException {
        GgufFile file = GgufFile.open(path);
        try {
            return of(file);
        } catch (IOException | RuntimeException | Error e) {
            file.close();
            throw e;
        }
    }

    private static GgufCheckpoint of(GgufFile file) throws IOException {
        Path path = file.path();
        GgufMetadata m = file.metadata();
        boolean llama = file.architecture().equals(GgufTensorNames.LLAMA);
        int heads = llama ? m.requiredInt(GgufKeys.of(GgufTensorNames.LLAMA, GgufKeys.HEAD_COUNT), 1, Integer.MAX_VALUE) : 0;
        int kvHeads = llama ? m.intOr(GgufKeys.of(GgufTensorNames.LLAMA, GgufKeys.HEAD_COUNT_KV), 1, heads, heads) : 0;
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (GgufTensor t : file.tensors()) {
            String name = llama ? GgufTensorNames.hfName(t.name()).orElse(t.name()) : t.name();
            TensorInfo info = new TensorInfo(name, t.type().dtype().orElse(DType.F32), t.shape());
            int[] rowMap = null;
            if (llama && GgufTensorNames.isQuery(t.name())) {
                rowMap = rowMap(path, t, heads);
            } else if (llama && GgufTensorNames.isKey(t.name())) {
                rowMap = rowMap(path, t, kvHeads);
            }
            if (entries.putIfAbsent(name, new Entry(t, info, rowMap)) != null) {
                throw new FormatException(path, t.name(), "is presented as '" + name + "', which another tensor is too");
            }
        }
        ObjectNode config = null;
        if (llama) {
            Entry embed = entries.get("model.embed_tokens.weight");
            config = GgufLlamaConfig.of(path, m, file.tensors().stream().map(GgufTensor::name).toList(),
                    embed == null || embed.info().rank() != 2 ? -1 : embed.info().shape()[0]);
        }
        List<AuxFile> aux = new ArrayList<>();
        GgufTokenizer.Built tokenizer = GgufTokenizer.build(path, m);
        if (tokenizer.json().isPresent()) {
            aux.add(AuxFile.of(TOKENIZER_FILE, Json.MAPPER.writeValueAsBytes(tokenizer.json().get())));
        }
        ObjectNode generation = GgufLlamaConfig.generation(m);
        if (generation != null) {
            aux.add(AuxFile.of(GENERATION_CONFIG, (generation + "\n").getBytes(StandardCharsets.UTF_8)));
        }
        return new GgufCheckpoint(file, Collections.unmodifiableMap(entries), config, List.copyOf(aux),
                tokenizer.problem());
    }

    /**
     * The stored row of each HF row of a query or key tensor of {@code heads} heads: llama.cpp's converter interleaves
     * each head's two rotary halves, so HF row {@code t * half + i} of a head is its stored row {@code 2i + t}.
     */
    private static int[] rowMap(Path path, GgufTensor t, int heads) throws FormatException {
        if (t.dims().length == 1 && t.type().dtype().isEmpty()) {
            throw new FormatException(path, t.name(), "is a vector stored as " + t.type() + "; arica reorders the rotary "
                    + "rows of F32, F16 and BF16 vectors only");
        }
        long rows = t.dims().length == 1 ? t.dims()[0] : t.rows();
        if (rows % heads != 0 || rows / heads % 2 != 0 || rows > Integer.MAX_VALUE) {
            throw new FormatException(path, t.name(), "has " + rows + " rows, which " + heads + " heads do not divide "
                    + "into heads of an even size (its rows are in GGML's rotary order, which arica undoes per head)");
        }
        return RotaryPermutation.hfFromLlama2c(heads, (int) (rows / heads));
    }

    /** The file as stored. */
    public GgufFile file() {
        return file;
    }

    /** The GGUF name of a tensor presented as {@code name}. */
    public String ggufName(String name) {
        return entry(name).stored().name();
    }

    /** The GGML type a tensor is stored as. */
    public GgmlType ggmlType(String name) {
        return entry(name).stored().type();
    }

    /** Bytes a tensor takes in the file, in its GGML type. */
    public long storedBytes(String name) {
        return entry(name).stored().bytes();
    }

    /** Why the file's vocabulary was not rebuilt as a tokenizer.json; empty when it was. */
    public Optional<String> tokenizerProblem() {
        return Optional.ofNullable(tokenizerProblem);
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw TensorIndex.noTensor(name, file.path());
        }
        return e;
    }

    @Override
    public String format() {
        return FORMAT;
    }

    @Override
    public Path path() {
        return file.path();
    }

    @Override
    public List<TensorInfo> tensors() {
        return infos;
    }

    /** Plain tensors mapped (rows reordered as views); quantized ones dequantized into memory of their own. */
    @Override
    public Tensor tensor(String name) throws IOException {
        return tensor(name, Arena.ofAuto());
    }

    /** As {@link #tensor(String)}, a dequantized tensor's memory taken from {@code arena}. */
    @Override
    public Tensor tensor(String name, Arena arena) throws IOException {
        Entry e = entry(name);
        GgufTensor t = e.stored();
        MemorySegment stored = file.data(t);
        if (t.type().dtype().isPresent()) {
            return e.rowMap() == null ? Tensor.of(e.info(), stored) : new Tensor(e.info(), rows(stored, t, e.rowMap()));
        }
        BlockDequantizer blocks = t.type().dequantizer().orElseThrow(() -> new FormatException(file.path(), t.name(),
                (name.equals(t.name()) ? "" : "(" + name + ") ") + "is stored as GGML type " + t.type()
                        + ", which arica does not read (it reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, "
                        + "Q5_K, Q6_K and Q8_K)"));
        long cols = t.rowLength(), rows = t.rows();
        if (cols > Integer.MAX_VALUE - 8) {
            throw new FormatException(file.path(), t.name(), "has rows of " + cols + " values, more than arica dequantizes "
                    + "(2^31 - 9)");
        }
        MemorySegment out = arena.allocate(e.info().byteSize(), 64);
        float[] row = new float[(int) cols];
        int perBlock = t.type().blockValues();
        for (long r = 0; r < rows; r++) {
            long src = (e.rowMap() == null ? r : e.rowMap()[(int) r]) * t.rowBytes();
            for (int b = 0; b < cols / perBlock; b++) {
                blocks.dequantize(stored, src + (long) b * t.type().blockBytes(), row, b * perBlock);
            }
            MemorySegment.copy(row, 0, out, FloatCast.F32_LE, r * cols * Float.BYTES, (int) cols);
        }
        return Tensor.of(e.info(), out);
    }

    /** The rows of {@code t}'s stored bytes in the order of {@code rowMap}, as views. */
    private static List<MemorySegment> rows(MemorySegment stored, GgufTensor t, int[] rowMap) {
        long rowBytes = rowMap.length == 0 ? 0 : t.bytes() / rowMap.length;
        List<MemorySegment> rows = new ArrayList<>(rowMap.length);
        for (int src : rowMap) {
            rows.add(stored.asSlice(src * rowBytes, rowBytes));
        }
        return rows;
    }

    /** Where a plain tensor stored in its presented order lies in the file; empty for any other. */
    @Override
    public Optional<FileRange> location(String name) {
        Entry e = entries.get(name);
        if (e == null || e.rowMap() != null || e.stored().type().dtype().isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new FileRange(file.path(), file.dataOffset() + e.stored().offset(), e.stored().bytes()));
    }

    /** Q8_0 and Q4_0 matrices: arica's q8_0 and q4_0 rows, stored as they are. */
    @Override
    public Optional<Storage.Quantized> quantizedStorage(String name) {
        Entry e = entries.get(name);
        if (e == null || e.info().rank() != 2) {
            return Optional.empty();
        }
        return e.stored().type().scheme().map(s -> new Storage.Quantized(QuantLayout.of(s)));
    }

    /** The stored blocks of a Q8_0 or Q4_0 matrix: the mapping, or its rows copied into {@code arena} in HF order. */
    @Override
    public MemorySegment stored(String name, Arena arena) throws IOException {
        Entry e = entry(name);
        if (quantizedStorage(name).isEmpty()) {
            throw new FormatException(file.path(), e.stored().name(), "is stored as " + e.stored().type()
                    + ", not in one of arica's quantized layouts");
        }
        MemorySegment stored = file.data(e.stored());
        if (e.rowMap() == null) {
            return stored;
        }
        MemorySegment out = arena.allocate(stored.byteSize(), 64);
        long offset = 0;
        for (MemorySegment row : rows(stored, e.stored(), e.rowMap())) {
            MemorySegment.copy(row, 0, out, offset, row.byteSize());
            offset += row.byteSize();
        }
        return out;
    }

    /**
     * The file's metadata as text, in file order: what inspect shows (arrays of strings or of more than a few values by
     * their length and type). Not {@link #metadata()}: it describes the GGUF file, not the tensors a conversion writes.
     */
    public Map<String, String> ggufMetadata() {
        return metadata;
    }

    /** What a safetensors file converted from this one says of itself, as for llama2.c imports: "format" "pt". */
    @Override
    public Map<String, String> metadata() {
        return Map.of("format", "pt");
    }

    @Override
    public Optional<ObjectNode> config() {
        return Optional.ofNullable(config).map(ObjectNode::deepCopy);
    }

    @Override
    public List<AuxFile> auxFiles() {
        return aux;
    }

    @Override
    public List<Path> dataFiles() {
        return List.of(file.path());
    }

    /** Tensors by GGML type, "Q8_0 x 36, F32 x 11": what inspect summarizes. */
    public String typeSummary() {
        Map<GgmlType, Long> counts = file.tensors().stream().collect(Collectors.groupingBy(GgufTensor::type,
                LinkedHashMap::new, Collectors.counting()));
        return counts.entrySet().stream().map(x -> x.getKey() + " x " + x.getValue()).collect(Collectors.joining(", "));
    }

    @Override
    public void close() {
        file.close();
    }
}
