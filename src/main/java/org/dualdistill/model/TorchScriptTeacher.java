package org.dualdistill.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.JitModule;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TupleElements;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * Any scripted PyTorch module ({@code torch.jit.script(model).save(path)}) as a frozen teacher: loaded once, put in
 * eval mode, and run without gradient. Its {@code forward(clip)} may return
 * <ul>
 *   <li>a tensor: the logits;</li>
 *   <li>a tuple {@code (logits, embedding, features)} (trailing elements optional);</li>
 *   <li>a dict with keys {@code "logits"}, {@code "embedding"}, {@code "features"}.</li>
 * </ul>
 * Owns the loaded module; {@link #close()} releases it. Concurrent {@link #forward} calls are as safe as the
 * scripted module's forward (TorchScript modules in eval mode are usually reentrant).
 */
public final class TorchScriptTeacher implements AutoCloseable {
    static {
        TorchRuntime.init();
    }

    private final Path file;
    private final AtomicReference<JitModule> module = new AtomicReference<>();

    private TorchScriptTeacher(Path file, JitModule m) {
        this.file = file;
        this.module.set(m);
    }

    /**
     * @param file a TorchScript archive
     * @return the teacher, in eval mode; caller must close
     * @throws java.io.IOException when the file is missing or LibTorch cannot load it (the message names the file)
     */
    public static TorchScriptTeacher load(Path file) throws java.io.IOException {
        if (!Files.isRegularFile(file)) {
            throw new java.nio.file.NoSuchFileException(file.toString(), null, "TorchScript file not found");
        }
        JitModule m;
        try {
            m = torch.load(file.toAbsolutePath().toString());
        } catch (RuntimeException e) {
            throw new java.io.IOException(file + ": LibTorch could not load it as TorchScript: " + firstLine(e.getMessage()), e);
        }
        m.retainReference();
        m.eval();
        return new TorchScriptTeacher(file, m);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "(no message)";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /**
     * @param clip the teacher's input (borrowed), e.g. float32 [B, 3, T, H, W]
     * @return logits (and embedding / features when the module returns them; else null), detached, in the
     *     caller's PointerScope
     * @throws IllegalStateException    after close
     * @throws IllegalArgumentException when the module rejects the input or returns something else than described
     */
    public ModelOutput forward(Tensor clip) {
        JitModule m = module.get();
        if (m == null) {
            throw new IllegalStateException("TorchScriptTeacher is closed");
        }
        TensorBridge.requireDefined(clip, "clip");
        IValue out;
        try (NoGradGuard g = new NoGradGuard()) {
            out = m.forward(new IValueVector(new IValue(clip)));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": forward failed for input " + TensorBridge.shapeString(clip) + ": "
                    + firstLine(e.getMessage()), e);
        }
        if (out.isTensor()) {
            return new ModelOutput(out.toTensor(), null, null);
        }
        if (out.isTuple()) {
            TupleElements el = out.toTuple().elements();
            return new ModelOutput(tensorAt(el, 0), tensorAt(el, 1), tensorAt(el, 2));
        }
        if (out.isGenericDict()) {
            var d = out.toGenericDict();
            return new ModelOutput(dictTensor(d, "logits"), dictTensor(d, "embedding"), dictTensor(d, "features"));
        }
        throw new IllegalArgumentException(file + ": forward returned neither a tensor, a tuple nor a dict");
    }

    private Tensor tensorAt(TupleElements el, long i) {
        if (i >= el.size()) {
            return null;
        }
        IValue v = el.get(i);
        if (!v.isTensor()) {
            throw new IllegalArgumentException(file + ": tuple element " + i + " is not a tensor");
        }
        return v.toTensor();
    }

    private Tensor dictTensor(org.bytedeco.pytorch.GenericDict d, String key) {
        IValue k = new IValue(key);
        if (!d.contains(k)) {
            if (key.equals("logits")) {
                throw new IllegalArgumentException(file + ": returned dict has no \"logits\"");
            }
            return null;
        }
        return d.at(k).toTensor();
    }

    /** @return the file it was loaded from */
    public Path file() {
        return file;
    }

    @Override
    public void close() {
        JitModule m = module.getAndSet(null);
        if (m != null) {
            try (PointerScope scope = new PointerScope()) {
                m.close();
            }
        }
    }
}
