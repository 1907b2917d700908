package org.dualdistill.distributed;

/**
 * A collective or rendezvous failed: a peer rank died, stalled past the timeout, or could not be reached. The message
 * names this rank, the operation and the timeout; the cause is LibTorch's (c10d/Gloo) error. A job that sees one
 * cannot continue: every rank should exit and the job be restarted from its last checkpoint.
 */
public final class DistributedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed, on which rank
     * @param cause   the native error, or null
     */
    public DistributedException(String message, Throwable cause) {
        super(message, cause);
    }
}
