package org.dualdistill.recipe;

import java.util.Locale;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.internal.torch.TorchRuntime;

/**
 * Resolves {@code run.device} ({@code cpu}, {@code cuda}, {@code cuda:N}, {@code auto}) to a LibTorch device, and
 * refuses CUDA at start-up, in one line, when this LibTorch is the CPU build ({@code torch.hasCUDA()} false) or when
 * it sees no such device ({@code torch.cuda_is_available()}, {@code torch.cuda_device_count()}). Stateless and
 * thread-safe.
 */
public final class Devices {
    static {
        TorchRuntime.init();
    }

    private Devices() {
    }

    /**
     * @param spec {@code cpu}, {@code cuda}, {@code cuda:N} or {@code auto} (any case)
     * @return the canonical name of the device to use: {@code cpu} or {@code cuda:N}
     * @throws RecipeException naming the spec and why it cannot be served
     */
    public static String resolve(String spec) throws RecipeException {
        String s = spec == null ? "auto" : spec.strip().toLowerCase(Locale.ROOT);
        if (s.equals("cpu")) {
            return "cpu";
        }
        if (s.equals("auto")) {
            return cudaUsable() ? "cuda:0" : "cpu";
        }
        if (!s.matches("cuda(:\\d+)?")) {
            throw new RecipeException("device \"" + spec + "\": expected cpu, cuda, cuda:N or auto");
        }
        int index = s.equals("cuda") ? 0 : Integer.parseInt(s.substring(5));
        if (!torch.hasCUDA()) {
            throw new RecipeException("device " + s + ": this LibTorch is the CPU build (torch.hasCUDA() is false); "
                    + "build with mvn -Pgpu for CUDA");
        }
        int count = torch.cuda_is_available() ? torch.cuda_device_count() : 0;
        if (count == 0) {
            throw new RecipeException("device " + s + ": no CUDA device visible (torch.cuda_is_available() is "
                    + torch.cuda_is_available() + ", torch.cuda_device_count() is " + torch.cuda_device_count() + ")");
        }
        if (index >= count) {
            throw new RecipeException("device " + s + ": only " + count + " CUDA device(s) visible (cuda:0.."
                    + "cuda:" + (count - 1) + ")");
        }
        return "cuda:" + index;
    }

    /** @return whether this build has CUDA and sees at least one device */
    public static boolean cudaUsable() {
        return torch.hasCUDA() && torch.cuda_is_available() && torch.cuda_device_count() > 0;
    }

    /**
     * @param name a name from {@link #resolve}
     * @return the LibTorch device; caller owns it (it is a small native object: keep one per run)
     */
    public static Device device(String name) {
        return new Device(name);
    }

    /**
     * @param device    a name from {@link #resolve}
     * @param precision {@code auto}, {@code fp32}, {@code bf16} or {@code fp16}
     * @return the autocast dtype, or null for fp32 (auto: bf16 on CUDA, fp32 on the CPU)
     */
    public static torch.ScalarType autocastDtype(String device, String precision) {
        return switch (precision) {
            case "bf16" -> torch.ScalarType.BFloat16;
            case "fp16" -> torch.ScalarType.Half;
            case "fp32" -> null;
            default -> device.startsWith("cuda") ? torch.ScalarType.BFloat16 : null;
        };
    }
}
