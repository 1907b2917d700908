package org.dualdistill.sdd;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Conv3dImpl;
import org.bytedeco.pytorch.Conv3dOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TensorBridge;
import org.dualdistill.internal.torch.TorchRuntime;
import org.dualdistill.model.NativeOwner;

/**
 * The optional homogeneous hint (FitNets-style) term: {@code L_hint = mean (psi(f_s) - sg(resample(f_CNN)))^2},
 * psi a learned 1x1x1 conv from the student's channels to the CNN teacher's (docs/method.md;
 * default weight 0). A {@link Module}: psi's parameters join the optimizer; not thread-safe; caller closes.
 */
public final class HintLoss extends Module {
    static {
        TorchRuntime.init();
    }

    private final NativeOwner own = new NativeOwner();

    private final Conv3dImpl psi;
    private final long teacherChannels;

    /**
     * @param studentChannels C_s of the student tap
     * @param teacherChannels C of the CNN teacher's map
     */
    public HintLoss(long studentChannels, long teacherChannels) {
        super();
        if (studentChannels < 1 || teacherChannels < 1) {
            throw new IllegalArgumentException("hint: channels must be >= 1");
        }
        this.teacherChannels = teacherChannels;
        // the wrapper is retained by `own` (see NativeOwner)
        psi = keep("psi", new Conv3dImpl(new Conv3dOptions(studentChannels, teacherChannels,
                new LongPointer(1L, 1L, 1L))));
    }

    /**
     * @param student     student map [B, C_s, T, H, W] (borrowed; receives gradients)
     * @param cnnTeacher  CNN teacher map [B, C, T', H', W'] (borrowed; a constant, resampled to the student grid)
     * @return the scalar loss in the caller's PointerScope
     */
    public Tensor compute(Tensor student, Tensor cnnTeacher) {
        TensorBridge.requireDefined(student, "student");
        TensorBridge.requireDefined(cnnTeacher, "cnnTeacher");
        if (cnnTeacher.dim() != 5 || cnnTeacher.size(1) != teacherChannels || student.dim() != 5
                || cnnTeacher.size(0) != student.size(0)) {
            throw new IllegalArgumentException("hint: expected student [B, C_s, T, H, W] and CNN teacher [B, "
                    + teacherChannels + ", T', H', W'], got " + TensorBridge.shapeString(student) + " and "
                    + TensorBridge.shapeString(cnnTeacher));
        }
        Tensor target;
        try (NoGradGuard g = new NoGradGuard()) {
            target = FeatureAlignment.resample(cnnTeacher.detach().to(torch.ScalarType.Float),
                    new long[] {student.size(2), student.size(3), student.size(4)});
        }
        Tensor d = psi.forward(student).sub(target);
        return d.mul(d).mean();
    }

    /** Registers a submodule and keeps its wrapper alive as long as this module (see NativeOwner). */
    private <M extends Module> M keep(String name, M child) {
        return own.register(this, name, child);
    }

    /** Releases the submodules' wrappers and this module. Idempotent. */
    @Override
    public void close() {
        own.releaseAll();
        super.close();
    }
}
