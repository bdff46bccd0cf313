package dev.arica.fuzz;

import com.code_intelligence.jazzer.api.HookType;
import com.code_intelligence.jazzer.api.MethodHook;
import java.io.File;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Jazzer hooks on every call by which arica's code opens, reads or lists a file: while a reader runs on a fuzz input,
 * the paths it reaches are recorded so that {@link ReaderProperty} can refuse any outside the input's directory.
 * Registered through {@code jazzer.custom_hooks} (junit-platform.properties and bench/fuzz.sh).
 */
public final class FileAccessHooks {

    private static final ThreadLocal<List<Path>> RECORDED = new ThreadLocal<>();

    private FileAccessHooks() {
    }

    /** Starts recording the current thread's file accesses; {@link #stop()} returns them. */
    static void start() {
        RECORDED.set(new ArrayList<>());
    }

    static List<Path> stop() {
        List<Path> seen = RECORDED.get();
        RECORDED.remove();
        return seen == null ? List.of() : seen;
    }

    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.channels.FileChannel", targetMethod = "open")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "newByteChannel")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "newInputStream")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "newBufferedReader")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "readAllBytes")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "readAllLines")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "readString")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "lines")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "list")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "walk")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "newDirectoryStream")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "copy")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "size")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "exists")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "isRegularFile")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "isDirectory")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.nio.file.Files", targetMethod = "readAttributes")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.io.FileInputStream", targetMethod = "<init>")
    @MethodHook(type = HookType.BEFORE, targetClassName = "java.io.RandomAccessFile", targetMethod = "<init>")
    public static void access(MethodHandle method, Object thisObject, Object[] arguments, int hookId) {
        List<Path> seen = RECORDED.get();
        if (seen == null || arguments.length == 0) {
            return;
        }
        switch (arguments[0]) {
            case Path p -> seen.add(p);
            case File f -> seen.add(f.toPath());
            case String s -> seen.add(Path.of(s.replace('\0', '_')));
            default -> { /* Files.copy(InputStream, Path): the source is a stream, the target a write */ }
        }
    }
}
