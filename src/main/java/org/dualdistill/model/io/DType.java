package org.dualdistill.model.io;

import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Element types of stored tensors, with their PyTorch storage class, safetensors name, LibTorch type and size.
 * Immutable.
 */
public enum DType {
    FLOAT32("FloatStorage", "F32", ScalarType.Float, 4),
    FLOAT64("DoubleStorage", "F64", ScalarType.Double, 8),
    FLOAT16("HalfStorage", "F16", ScalarType.Half, 2),
    BFLOAT16("BFloat16Storage", "BF16", ScalarType.BFloat16, 2),
    INT64("LongStorage", "I64", ScalarType.Long, 8),
    INT32("IntStorage", "I32", ScalarType.Int, 4),
    INT16("ShortStorage", "I16", ScalarType.Short, 2),
    INT8("CharStorage", "I8", ScalarType.Char, 1),
    UINT8("ByteStorage", "U8", ScalarType.Byte, 1),
    BOOL("BoolStorage", "BOOL", ScalarType.Bool, 1);

    private final String storageClass;
    private final String safetensors;
    private final ScalarType scalarType;
    private final int size;

    DType(String storageClass, String safetensors, ScalarType scalarType, int size) {
        this.storageClass = storageClass;
        this.safetensors = safetensors;
        this.scalarType = scalarType;
        this.size = size;
    }

    /** @return the {@code torch.*Storage} class name that stands for this type in a pickle */
    public String storageClass() {
        return storageClass;
    }

    /** @return the safetensors dtype string (F32, BF16, ...) */
    public String safetensorsName() {
        return safetensors;
    }

    /** @return the LibTorch scalar type */
    public ScalarType scalarType() {
        return scalarType;
    }

    /** @return bytes per element */
    public int size() {
        return size;
    }

    /**
     * @param name a safetensors dtype string
     * @return the type, or null when it is not one of these
     */
    public static DType ofSafetensors(String name) {
        for (DType d : values()) {
            if (d.safetensors.equals(name)) {
                return d;
            }
        }
        return null;
    }
}
