package org.dualdistill.kernels;

/**
 * A native kernel refused its input or could not run. Carries the {@code dd_status} code, the C function and the
 * library's own text for the code ({@code dd_status_string}).
 */
public final class KernelException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String function;

    /**
     * @param status   the {@code dd_status} the kernel returned (0 never reaches here)
     * @param function the C function, for example {@code dd_datw_cpu}
     * @param message  what went wrong, already including the status text
     */
    public KernelException(int status, String function, String message) {
        super(function + "() failed with dd_status " + status + ": " + message);
        this.status = status;
        this.function = function;
    }

    /** A kernel that could not be loaded or selected at all ({@code status} -1). */
    public KernelException(String function, String message, Throwable cause) {
        super(function + ": " + message, cause);
        this.status = -1;
        this.function = function;
    }

    /** @return the {@code dd_status} code, or -1 when the kernel was never called */
    public int status() {
        return status;
    }

    /** @return the C function that failed */
    public String function() {
        return function;
    }
}
