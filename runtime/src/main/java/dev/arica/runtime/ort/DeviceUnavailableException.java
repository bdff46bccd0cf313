package dev.arica.runtime.ort;

import java.io.IOException;

/** The device asked for (CUDA) cannot be used here; the message says why in one line. */
public final class DeviceUnavailableException extends IOException {
    private static final long serialVersionUID = 1L;

    public DeviceUnavailableException(String message) {
        super(message);
    }

    public DeviceUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
