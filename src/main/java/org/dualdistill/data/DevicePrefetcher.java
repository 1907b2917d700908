package org.dualdistill.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Stream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.cuda.CUDAEvent;
import org.bytedeco.pytorch.cuda.CUDAStream;
import org.bytedeco.pytorch.cuda.CUDAStreamGuard;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch_cuda;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * Feeds batches to a CUDA device one batch ahead: while the caller computes step {@code k} on batch {@code k}, the
 * host-to-device copy of batch {@code k + 1} runs on a side CUDA stream.
 *
 * <p>Per batch: every tensor (views, labels, extra labels) is copied from pinned host memory with
 * {@code non_blocking = true} on a side stream taken from LibTorch's pool, and a {@code CUDAEvent} is recorded after
 * the copies. A loader built with {@link DataLoader.Builder#optPinMemory} renders its batches straight into pinned
 * memory; otherwise each tensor is pinned here, once per batch. When the caller takes the batch ({@link #next()}), the
 * current (compute) stream waits on that event and every device tensor is {@code record_stream}-ed on the compute
 * stream, so the caching allocator cannot hand its memory to the side stream while the step still reads it. The host
 * batch stays alive until the device batch is closed, and is only freed after its copy's event has completed, so
 * pinned memory is never reused under a copy in flight.
 *
 * <p>Ownership: the prefetcher owns the one batch it has staged (host batch, device tensors, event) and the side
 * stream handle; {@link #next()} hands a device {@link Batch} to the caller, who closes it (as a loader batch). It
 * borrows the source of host batches (a loader epoch): {@link #close()} frees what is staged but leaves the loader's
 * queued batches to the loader. An exception from the source while staging the next batch is held back and thrown by
 * the following {@link #hasNext()}, so the batches before it are still delivered, in order. Not thread-safe: one
 * consumer thread, the one that runs the steps (its current CUDA stream is the compute stream). Close is idempotent.
 */
public final class DevicePrefetcher implements Iterator<Batch>, AutoCloseable {
    static {
        TorchRuntime.init();
    }

    /** Copies a host batch somewhere; one implementation per kind of device. Package-private: tests add a CPU one. */
    interface Stager extends AutoCloseable {
        /** Starts copying {@code host} (ownership passes to the transfer, also when this throws). */
        Transfer start(Batch host);

        @Override
        void close();
    }

    /** One batch in flight: {@link #await} hands over the copy, {@link #close} drops it (and the host batch). */
    interface Transfer extends AutoCloseable {
        /** @return the copied batch, owned by the caller; the transfer is spent */
        Batch await();

        @Override
        void close();
    }

    private final Iterator<Batch> source;
    private final Stager stager;
    private Transfer ahead; // the staged batch, or null
    private RuntimeException held; // the source's failure while staging, thrown by the next hasNext()
    private boolean closed;

    DevicePrefetcher(Iterator<Batch> source, Stager stager) {
        this.source = Objects.requireNonNull(source, "source");
        this.stager = Objects.requireNonNull(stager, "stager");
    }

    /**
     * @param batches host batches (borrowed; a {@link DataLoader#epoch} pass), iterated once
     * @param device  a CUDA device
     * @return the prefetcher; caller must close it
     * @throws IllegalArgumentException when {@code device} is not a CUDA device
     * @throws IllegalStateException    in one line when this LibTorch is the CPU build or sees no CUDA device
     */
    public static DevicePrefetcher cuda(Iterable<Batch> batches, Device device) {
        Objects.requireNonNull(device, "device");
        if (!device.is_cuda()) {
            throw new IllegalArgumentException("DevicePrefetcher: expected a CUDA device, got " + device.type());
        }
        requireCuda();
        return new DevicePrefetcher(batches.iterator(), new CudaStager(device));
    }

    /** @throws IllegalStateException in one line when CUDA cannot be used (CPU build, or no device visible) */
    static void requireCuda() {
        if (!torch.hasCUDA()) {
            throw new IllegalStateException("pinned, non-blocking host-to-device copies need CUDA: this LibTorch is the "
                    + "CPU build (torch.hasCUDA() is false); build with mvn -Pgpu");
        }
        if (!torch.cuda_is_available() || torch.cuda_device_count() == 0) {
            throw new IllegalStateException("pinned, non-blocking host-to-device copies need CUDA: no CUDA device "
                    + "visible (torch.cuda_is_available() is " + torch.cuda_is_available() + ")");
        }
    }

    @Override
    public boolean hasNext() {
        if (closed) {
            throw new IllegalStateException("DevicePrefetcher is closed");
        }
        if (ahead != null) {
            return true;
        }
        if (held != null) {
            RuntimeException e = held;
            held = null;
            throw e;
        }
        stageNext(false);
        return ahead != null;
    }

    /**
     * The next batch on the device, its copy ordered before any work the caller enqueues from now on; the copy of the
     * batch after it is started before this returns.
     *
     * @return the batch (caller closes it)
     */
    @Override
    public Batch next() {
        if (!hasNext()) {
            throw new NoSuchElementException("no more batches");
        }
        Transfer t = ahead;
        ahead = null;
        Batch b;
        try (t) {
            b = t.await();
        }
        stageNext(true);
        return b;
    }

    /** Stages the source's next batch; with {@code hold}, a failure is kept for the next hasNext() (b is delivered). */
    private void stageNext(boolean hold) {
        try {
            if (source.hasNext()) {
                ahead = stager.start(source.next());
            }
        } catch (RuntimeException e) {
            if (!hold) {
                throw e;
            }
            held = e;
        }
    }

    /** Frees the staged batch (waiting for its copy) and the side stream handle. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (ahead != null) {
                ahead.close();
                ahead = null;
            }
        } finally {
            stager.close();
        }
    }

    /** Retains a new native object so that no enclosing {@link PointerScope} frees it: its one owner releases it. */
    private static <P extends Pointer> P own(P p) {
        p.retainReference();
        return p;
    }

    /** Copies on a side stream from LibTorch's pool of {@code device}; owns that stream's handle and the device. */
    private static final class CudaStager implements Stager {
        private final byte index;
        private final Device device;
        private final CUDAStream side;

        CudaStager(Device device) {
            this.index = device.has_index() ? device.index() : 0;
            this.device = own(new Device(torch.DeviceType.CUDA, index));
            this.side = own(torch_cuda.getStreamFromPool(false, index));
        }

        @Override
        public Transfer start(Batch host) {
            int n = host.tensorCount();
            Tensor[] dev = new Tensor[n];
            Tensor[] pinned = new Tensor[n];
            CUDAEvent event = null;
            try {
                event = own(new CUDAEvent());
                try (Stream s = own(side.unwrap()); CUDAStreamGuard g = own(new CUDAStreamGuard(s));
                     PointerScope scope = new PointerScope()) {
                    for (int i = 0; i < n; i++) {
                        Tensor h = host.tensor(i);
                        if (h == null) {
                            continue;
                        }
                        Tensor src = h;
                        if (!h.is_pinned()) { // the loader was not built with optPinMemory: pin here, once per batch
                            src = h.pin_memory();
                            src.retainReference();
                            pinned[i] = src;
                        }
                        Tensor d = src.to(device, src.dtype(), true, false); // non-blocking, on the side stream
                        d.retainReference();
                        dev[i] = d;
                    }
                    event.record(side);
                }
                return new CudaTransfer(index, host, dev, pinned, event);
            } catch (RuntimeException | Error e) {
                if (event != null) {
                    if (event.isCreated()) {
                        event.synchronize(); // copies already enqueued finish before their memory is freed
                    } else {
                        side.synchronize();
                    }
                    event.close();
                } else {
                    side.synchronize();
                }
                release(dev);
                release(pinned);
                host.close();
                throw e;
            }
        }

        @Override
        public void close() {
            side.close(); // the handle only: pool streams are never destroyed
            device.close();
        }
    }

    /** A staged CUDA batch: the host batch, pinned copies made here, the device tensors, the event after the copies. */
    private static final class CudaTransfer implements Transfer {
        private final byte index;
        private final Batch host;
        private Tensor[] dev;
        private final Tensor[] pinned;
        private final CUDAEvent event;
        private boolean spent;

        CudaTransfer(byte index, Batch host, Tensor[] dev, Tensor[] pinned, CUDAEvent event) {
            this.index = index;
            this.host = host;
            this.dev = dev;
            this.pinned = pinned;
            this.event = event;
        }

        @Override
        public Batch await() {
            try (PointerScope scope = new PointerScope()) {
                CUDAStream compute = torch_cuda.getCurrentCUDAStream(index);
                event.block(compute); // the compute stream waits for the copies; the host does not
                Stream cs = compute.unwrap();
                for (Tensor d : dev) {
                    if (d != null) {
                        d.record_stream(cs); // allocated on the side stream, read on the compute stream
                    }
                }
            }
            Tensor[] owned = dev;
            dev = null;
            spent = true;
            return new Batch(host, owned, this::free);
        }

        /** After the copies: the event, the pinned copies and the host batch. */
        private void free() {
            event.synchronize(); // long done when a step has read the batch: it synchronised since
            event.close();
            release(pinned);
            host.close();
        }

        @Override
        public void close() {
            if (!spent) {
                spent = true;
                event.synchronize(); // the copies must be done before their sources and targets are freed
                release(dev);
                dev = null;
                free();
            }
        }
    }

    private static void release(Tensor[] ts) {
        for (int i = 0; i < ts.length; i++) {
            if (ts[i] != null) {
                ts[i].releaseReference();
                ts[i] = null;
            }
        }
    }
}
