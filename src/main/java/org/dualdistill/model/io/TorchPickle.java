package org.dualdistill.model.io;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A restricted pickle interpreter for {@code torch.save} files: it rebuilds plain containers, numbers, strings and
 * tensor descriptions, and nothing else. It never executes anything from the file; a reference to any global
 * outside a fixed allow-list (the one of PyTorch's {@code torch/_weights_only_unpickler.py}, narrowed to what
 * checkpoints of PySlowFast, pytorchvideo and torchvision hold) is refused with an {@link IOException} that names
 * the global, whatever value it would have produced.
 *
 * <p>Why our own interpreter and not Pyrolite ({@code net.razorvine:pyrolite}): Pyrolite's class constructors are
 * registered in a static, JVM-wide registry ({@code Unpickler.registerConstructor}), so restricting it for us would
 * restrict or extend it for every other user in the same JVM; unknown globals do not fail but silently become
 * {@code ClassDict}s (a refusal would need overriding its undocumented protected opcode handlers, which is relying
 * on internals); and it allocates each length-prefixed string or bytes object at its declared size before reading,
 * so a 4 GiB size field in a 100-byte file ends in an {@link OutOfMemoryError} rather than a clear error. The
 * opcode set torch.save needs is small (about 50 opcodes), so an interpreter that checks every length against the
 * bytes left, bounds its stack, memo and integer sizes, and knows only the allowed globals is shorter than the
 * guards Pyrolite would need.
 *
 * <p>Accepted: pickle protocols 2 to 5 (and the binary opcodes of 0 and 1 that Python still emits); out-of-band
 * buffers, extension codes, {@code INST}/{@code OBJ} and text-mode numbers are refused. The result graph holds
 * {@link String}, {@link Long} (or {@link BigInteger} beyond 64 bits), {@link Double}, {@link Boolean}, {@code null},
 * {@code byte[]}, {@link Tuple}, {@link List}, {@link Map} (a {@link LinkedHashMap}; {@code collections.OrderedDict}
 * too), {@link Set}, and {@link TensorRef}s whose storages come from the caller's persistent-id resolver.
 *
 * <p>Not thread-safe (one instance per pickle); the result graph is plain data.
 */
final class TorchPickle {
    /** Largest stack the interpreter allows (legitimate pickles batch at 1000 items per MARK). */
    static final int MAX_STACK = 100_000;
    /** Largest mark depth (nested MARKs). */
    static final int MAX_MARKS = 1_000;
    /** Largest encoded Python int, in bytes. */
    static final int MAX_LONG_BYTES = 64;

    /** A Python tuple (immutable; compared by identity so that hostile nesting can never recurse in hashCode). */
    record Tuple(List<Object> items) {
        Tuple {
            items = nullSafe(items);
        }

        Object get(int i) {
            return items.get(i);
        }

        int size() {
            return items.size();
        }

        @Override
        public boolean equals(Object o) {
            return this == o;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(this);
        }

        @Override
        public String toString() {
            return "tuple(" + items.size() + ")";
        }

        private static List<Object> nullSafe(List<Object> l) {
            // List.copyOf refuses nulls; Python tuples hold None
            return java.util.Collections.unmodifiableList(new ArrayList<>(l));
        }
    }

    /** A storage named by a persistent id: its dtype, archive key, device string and element count. */
    record StorageRef(DType dtype, String key, String location, long numel) {
    }

    /**
     * A tensor as {@code _rebuild_tensor_v2} describes it (a strided view into a storage).
     *
     * @param storage      the storage (shared between tensors that share it)
     * @param offset       storage offset, in elements
     * @param shape        sizes
     * @param stride       strides, in elements
     * @param requiresGrad whether it was a parameter requiring grad
     */
    record TensorRef(StorageRef storage, long offset, long[] shape, long[] stride, boolean requiresGrad) {
        @Override
        public boolean equals(Object o) {
            return this == o;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(this);
        }

        @Override
        public String toString() {
            return "tensor(" + storage.dtype() + Arrays.toString(shape) + ")";
        }
    }

    /** An allowed global, as pushed on the stack by GLOBAL / STACK_GLOBAL. */
    private record Global(String module, String name) {
        String qualified() {
            return module + "." + name;
        }
    }

    /** A typed-storage class, e.g. torch.FloatStorage. */
    record StorageClass(DType dtype) {
    }

    /** The MARK sentinel on the stack. */
    private static final Object MARK = new Object() {
        @Override
        public String toString() {
            return "MARK";
        }
    };

    /** Globals that may appear, with what they stand for. */
    private static final Map<String, Object> ALLOWED = allowed();

    private static Map<String, Object> allowed() {
        Map<String, Object> m = new HashMap<>();
        for (String g : new String[] {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter",
                "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
                "torch.nn.parameter.Parameter", "torch.Tensor", "torch.Size", "torch.device", "_codecs.encode",
                "builtins.set", "builtins.frozenset", "__builtin__.set", "builtins.bytearray"}) {
            int dot = g.lastIndexOf('.');
            m.put(g, new Global(g.substring(0, dot), g.substring(dot + 1)));
        }
        for (DType d : DType.values()) {
            if (d.storageClass() != null) {
                m.put("torch." + d.storageClass(), new StorageClass(d));
            }
        }
        m.put("torch.UntypedStorage", new StorageClass(DType.UINT8));
        return Map.copyOf(m);
    }

    private final String source;
    private final ByteBuffer in;
    private final Function<Tuple, Object> persistentLoad;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    /**
     * @param source         the file (and entry) name, for messages
     * @param pickle         the pickle bytes, from position to limit (not modified; a duplicate is read)
     * @param persistentLoad resolves a BINPERSID tuple to a {@link StorageRef} (may throw {@link IllegalArgumentException}
     *                       with a reason)
     */
    TorchPickle(String source, ByteBuffer pickle, Function<Tuple, Object> persistentLoad) {
        this.source = source;
        this.in = pickle.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        this.persistentLoad = persistentLoad;
    }

    /** @return bytes consumed so far (after {@link #load}: the pickle's length) */
    int consumed() {
        return in.position();
    }

    /**
     * Runs the pickle to its STOP opcode.
     *
     * @return the unpickled object
     * @throws IOException naming the source and the reason: truncation, an unknown or refused opcode or global,
     *                     a malformed stack, or a limit exceeded
     */
    Object load() throws IOException {
        try {
            return run();
        } catch (java.nio.BufferUnderflowException e) {
            throw fail("the pickle ends early (truncated file?)");
        } catch (IllegalArgumentException | ClassCastException | IndexOutOfBoundsException | ArithmeticException e) {
            throw fail("malformed pickle at byte " + in.position() + ": " + e.getMessage());
        }
    }

    private IOException fail(String why) {
        return new IOException(source + ": " + why);
    }

    private Object run() throws IOException {
        while (true) {
            if (!in.hasRemaining()) {
                throw fail("the pickle ends before its STOP opcode (truncated file?)");
            }
            int op = in.get() & 0xff;
            switch (op) {
                case 0x80 -> { // PROTO
                    int p = in.get() & 0xff;
                    if (p < 2 || p > 5) {
                        throw fail("pickle protocol " + p + " is not supported (2 to 5 are)");
                    }
                }
                case 0x95 -> { // FRAME: a length hint only
                    long n = in.getLong();
                    if (n < 0 || n > in.remaining()) {
                        throw fail("a pickle frame declares " + n + " bytes but " + in.remaining() + " remain");
                    }
                }
                case '.' -> { // STOP
                    if (stack.size() != 1 || !marks.isEmpty()) {
                        throw fail("malformed pickle: STOP with " + stack.size() + " items on the stack");
                    }
                    return stack.get(0);
                }
                case '(' -> {
                    if (marks.size() >= MAX_MARKS) {
                        throw fail("pickle nests deeper than " + MAX_MARKS + " marks");
                    }
                    marks.add(stack.size());
                    push(MARK);
                }
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) in.getInt()); // BININT
                case 'K' -> push((long) (in.get() & 0xff)); // BININT1
                case 'M' -> push((long) (in.getShort() & 0xffff)); // BININT2
                case 0x8a -> push(readLong(in.get() & 0xff)); // LONG1
                case 0x8b -> push(readLong(in.getInt())); // LONG4
                case 'G' -> push(ByteBuffer.wrap(take(8)).getDouble()); // BINFLOAT (big-endian)
                case 'X' -> push(utf8(u32())); // BINUNICODE
                case 0x8c -> push(utf8(in.get() & 0xff)); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(len64())); // BINUNICODE8
                case 'U' -> push(latin1(in.get() & 0xff)); // SHORT_BINSTRING
                case 'T' -> push(latin1(in.getInt())); // BINSTRING
                case 'C' -> push(bytes(in.get() & 0xff)); // SHORT_BINBYTES
                case 'B' -> push(bytes(u32())); // BINBYTES
                case 0x8e, 0x96 -> push(bytes(len64())); // BINBYTES8, BYTEARRAY8
                case ')' -> push(new Tuple(List.of()));
                case 't' -> push(new Tuple(popMark()));
                case 0x85 -> push(new Tuple(java.util.Collections.singletonList(pop())));
                case 0x86 -> {
                    Object b = pop();
                    Object a = pop();
                    push(new Tuple(Arrays.asList(a, b)));
                }
                case 0x87 -> {
                    Object c = pop();
                    Object b = pop();
                    Object a = pop();
                    push(new Tuple(Arrays.asList(a, b, c)));
                }
                case ']' -> push(new ArrayList<>());
                case 'l' -> push(new ArrayList<>(popMark())); // LIST
                case 'a' -> { // APPEND
                    Object v = pop();
                    list(peek()).add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    list(peek()).addAll(items);
                }
                case '}' -> push(new LinkedHashMap<>());
                case 'd' -> { // DICT
                    List<Object> items = popMark();
                    Map<Object, Object> d = new LinkedHashMap<>();
                    putPairs(d, items);
                    push(d);
                }
                case 's' -> { // SETITEM
                    Object v = pop();
                    Object k = pop();
                    dict(peek()).put(key(k), v);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    putPairs(dict(peek()), items);
                }
                case 0x8f -> push(new java.util.LinkedHashSet<>()); // EMPTY_SET
                case 0x90 -> { // ADDITEMS
                    List<Object> items = popMark();
                    Set<Object> s = set(peek());
                    for (Object o : items) {
                        s.add(key(o));
                    }
                }
                case 0x91 -> { // FROZENSET
                    Set<Object> s = new java.util.LinkedHashSet<>();
                    for (Object o : popMark()) {
                        s.add(key(o));
                    }
                    push(java.util.Collections.unmodifiableSet(s));
                }
                case 'c' -> push(global(line(), line())); // GLOBAL
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw fail("malformed pickle: STACK_GLOBAL needs two strings");
                    }
                    push(global(m, n));
                }
                case 'R' -> { // REDUCE
                    Object args = pop();
                    Object callable = pop();
                    push(reduce(callable, tuple(args, "REDUCE arguments")));
                }
                case 0x81 -> { // NEWOBJ
                    Object args = pop();
                    Object cls = pop();
                    push(reduce(cls, tuple(args, "NEWOBJ arguments")));
                }
                case 0x92 -> { // NEWOBJ_EX
                    Object kwargs = pop();
                    Object args = pop();
                    Object cls = pop();
                    if (!(kwargs instanceof Map<?, ?> kw) || !kw.isEmpty()) {
                        throw fail("NEWOBJ_EX with keyword arguments is not supported");
                    }
                    push(reduce(cls, tuple(args, "NEWOBJ_EX arguments")));
                }
                case 'b' -> { // BUILD
                    Object state = pop();
                    build(peek(), state);
                }
                case 'Q' -> { // BINPERSID
                    Object pid = pop();
                    try {
                        push(persistentLoad.apply(tuple(pid, "a persistent id")));
                    } catch (IllegalArgumentException e) {
                        throw fail(e.getMessage());
                    }
                }
                case 'q' -> memoPut(in.get() & 0xff); // BINPUT
                case 'r' -> memoPut(u32()); // LONG_BINPUT
                case 0x94 -> memoPut(memo.size()); // MEMOIZE
                case 'h' -> push(memoGet(in.get() & 0xff)); // BINGET
                case 'j' -> push(memoGet(u32())); // LONG_BINGET
                case 'p' -> memoPut(parseIndex(line())); // PUT (text)
                case 'g' -> push(memoGet(parseIndex(line()))); // GET (text)
                case 0x97, 0x98 -> throw fail("out-of-band pickle buffers (protocol 5 NEXT_BUFFER) are not supported");
                case 0x82, 0x83, 0x84 -> throw fail("pickle extension codes (EXT1/2/4) are not allowed");
                case 'i', 'o' -> throw fail("pickle INST/OBJ opcodes are not allowed (they instantiate classes)");
                default -> throw fail(String.format("pickle opcode 0x%02x at byte %d is not supported", op, in.position() - 1));
            }
        }
    }

    // ---- stack, memo, readers -------------------------------------------------------------------------------------

    private void push(Object o) throws IOException {
        if (stack.size() >= MAX_STACK) {
            throw fail("pickle stack exceeds " + MAX_STACK + " items (pickle bomb?)");
        }
        stack.add(o);
    }

    private Object pop() throws IOException {
        int n = stack.size();
        if (n == 0 || stack.get(n - 1) == MARK) {
            throw fail("malformed pickle: pop from an empty stack or across a MARK");
        }
        return stack.remove(n - 1);
    }

    private Object peek() throws IOException {
        if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) {
            throw fail("malformed pickle: no object on the stack");
        }
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() throws IOException {
        if (marks.isEmpty()) {
            throw fail("malformed pickle: no MARK on the stack");
        }
        int at = marks.remove(marks.size() - 1);
        List<Object> sub = stack.subList(at + 1, stack.size());
        List<Object> items = new ArrayList<>(sub);
        stack.subList(at, stack.size()).clear();
        return items;
    }

    private void memoPut(long index) throws IOException {
        Object top = peek();
        memo.put(index, top);
    }

    private Object memoGet(long index) throws IOException {
        if (!memo.containsKey(index)) {
            throw fail("malformed pickle: memo entry " + index + " was never stored");
        }
        return memo.get(index);
    }

    private long u32() {
        return in.getInt() & 0xffffffffL;
    }

    private long len64() throws IOException {
        long n = in.getLong();
        if (n < 0) {
            throw fail("a pickle length field is negative");
        }
        return n;
    }

    private byte[] take(long n) throws IOException {
        if (n < 0 || n > in.remaining()) {
            throw fail("a pickle field declares " + n + " bytes but only " + in.remaining()
                    + " remain (truncated file or pickle bomb)");
        }
        byte[] b = new byte[(int) n];
        in.get(b);
        return b;
    }

    private String utf8(long n) throws IOException {
        return new String(take(n), StandardCharsets.UTF_8);
    }

    private String latin1(long n) throws IOException {
        return new String(take(n), StandardCharsets.ISO_8859_1);
    }

    private byte[] bytes(long n) throws IOException {
        return take(n);
    }

    private Object readLong(long n) throws IOException {
        if (n > MAX_LONG_BYTES || n < 0) {
            throw fail("a pickled integer of " + n + " bytes exceeds the " + MAX_LONG_BYTES + "-byte limit");
        }
        byte[] le = take(n);
        if (le.length == 0) {
            return 0L;
        }
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) {
            be[i] = le[le.length - 1 - i];
        }
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private String line() throws IOException {
        int start = in.position();
        int limit = Math.min(in.limit(), start + 4096);
        for (int i = start; i < limit; i++) {
            if (in.get(i) == '\n') {
                byte[] b = new byte[i - start];
                in.get(b);
                in.get();
                return new String(b, StandardCharsets.UTF_8);
            }
        }
        throw fail("a pickle text field has no end of line within 4096 bytes");
    }

    private long parseIndex(String s) throws IOException {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw fail("malformed pickle memo index '" + s + "'");
        }
    }

    // ---- containers -----------------------------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) throws IOException {
        if (o instanceof ArrayList<?> l) {
            return (List<Object>) l;
        }
        throw fail("malformed pickle: APPEND to a " + kind(o));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o) throws IOException {
        if (o instanceof LinkedHashMap<?, ?> m) {
            return (Map<Object, Object>) m;
        }
        throw fail("malformed pickle: SETITEM on a " + kind(o));
    }

    @SuppressWarnings("unchecked")
    private Set<Object> set(Object o) throws IOException {
        if (o instanceof java.util.LinkedHashSet<?> s) {
            return (Set<Object>) s;
        }
        throw fail("malformed pickle: ADDITEMS on a " + kind(o));
    }

    private void putPairs(Map<Object, Object> d, List<Object> items) throws IOException {
        if (items.size() % 2 != 0) {
            throw fail("malformed pickle: odd number of dict items");
        }
        for (int i = 0; i < items.size(); i += 2) {
            d.put(key(items.get(i)), items.get(i + 1));
        }
    }

    /** Dict keys and set members must be hashable without recursion: scalars, strings, bytes and identity objects. */
    private Object key(Object k) throws IOException {
        if (k == null || k instanceof String || k instanceof Long || k instanceof BigInteger || k instanceof Double
                || k instanceof Boolean || k instanceof Tuple || k instanceof TensorRef) {
            return k;
        }
        if (k instanceof byte[] b) {
            return new String(b, StandardCharsets.ISO_8859_1);
        }
        throw fail("malformed pickle: unhashable dict key (" + kind(k) + ")");
    }

    private Tuple tuple(Object o, String what) throws IOException {
        if (o instanceof Tuple t) {
            return t;
        }
        throw fail("malformed pickle: " + what + " must be a tuple, got " + kind(o));
    }

    private static String kind(Object o) {
        if (o == null) {
            return "None";
        }
        if (o instanceof Global g) {
            return g.qualified();
        }
        return o.getClass().getSimpleName();
    }

    // ---- globals, REDUCE and BUILD ----------------------------------------------------------------------------------

    private Object global(String module, String name) throws IOException {
        Object g = ALLOWED.get(module + "." + name);
        if (g == null) {
            throw fail("the pickle references the global '" + module + "." + name
                    + "', which is not allowed: this reader rebuilds only tensors and plain containers and never runs "
                    + "code from a file");
        }
        return g;
    }

    private Object reduce(Object callable, Tuple args) throws IOException {
        if (callable instanceof StorageClass) {
            throw fail("a storage class is called in the pickle; storages must come from persistent ids");
        }
        if (!(callable instanceof Global g)) {
            throw fail("malformed pickle: REDUCE on a " + kind(callable) + ", not an allowed global");
        }
        switch (g.qualified()) {
            case "collections.OrderedDict" -> {
                Map<Object, Object> d = new LinkedHashMap<>();
                if (args.size() == 1 && args.get(0) instanceof List<?> pairs) {
                    for (Object p : pairs) {
                        Tuple kv = tuple(p, "an OrderedDict item");
                        d.put(key(kv.get(0)), kv.get(1));
                    }
                } else if (args.size() != 0) {
                    throw fail("malformed pickle: OrderedDict with " + args.size() + " arguments");
                }
                return d;
            }
            case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor" -> {
                return rebuildTensor(args, g.name().endsWith("v2"));
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                if (args.size() < 3 || !(args.get(0) instanceof TensorRef t)) {
                    throw fail("malformed pickle: _rebuild_parameter needs (tensor, requires_grad, hooks)");
                }
                requireNoHooks(args.get(2));
                return new TensorRef(t.storage(), t.offset(), t.shape(), t.stride(), Boolean.TRUE.equals(args.get(1)));
            }
            case "torch._tensor._rebuild_from_type_v2" -> {
                // (func, new_type, args, state): only a tensor rebuild into torch.Tensor / Parameter is allowed
                if (args.size() != 4 || !(args.get(0) instanceof Global f) || !(args.get(1) instanceof Global type)
                        || !(type.qualified().equals("torch.Tensor") || type.qualified().equals("torch.nn.parameter.Parameter"))) {
                    throw fail("malformed pickle: _rebuild_from_type_v2 must rebuild a torch.Tensor or Parameter");
                }
                Object t = reduce(f, tuple(args.get(2), "_rebuild_from_type_v2 arguments"));
                if (!(t instanceof TensorRef)) {
                    throw fail("malformed pickle: _rebuild_from_type_v2 must rebuild a tensor, got " + kind(t));
                }
                if (args.get(3) instanceof Map<?, ?> state && !state.isEmpty()) {
                    throw fail("a tensor carries Python attributes " + state.keySet() + ", which are not supported");
                }
                return t;
            }
            case "torch.Size" -> {
                if (args.size() == 0) {
                    return new Tuple(List.of());
                }
                return tuple(args.get(0), "torch.Size argument");
            }
            case "torch.device" -> {
                StringBuilder b = new StringBuilder();
                for (Object o : args.items()) {
                    if (!(o instanceof String || o instanceof Long)) {
                        throw fail("malformed pickle: torch.device argument " + kind(o));
                    }
                    b.append(b.isEmpty() ? "" : ":").append(o);
                }
                return b.toString();
            }
            case "_codecs.encode" -> {
                if (args.size() != 2 || !(args.get(0) instanceof String s) || !(args.get(1) instanceof String enc)) {
                    throw fail("malformed pickle: _codecs.encode needs (str, encoding)");
                }
                return switch (enc.toLowerCase(java.util.Locale.ROOT)) {
                    case "latin1", "latin-1", "iso-8859-1" -> s.getBytes(StandardCharsets.ISO_8859_1);
                    case "utf-8", "utf8" -> s.getBytes(StandardCharsets.UTF_8);
                    default -> throw fail("_codecs.encode with encoding '" + enc + "' is not supported");
                };
            }
            case "builtins.set", "__builtin__.set", "builtins.frozenset" -> {
                Set<Object> s = new java.util.LinkedHashSet<>();
                if (args.size() == 1 && args.get(0) instanceof List<?> items) {
                    for (Object o : items) {
                        s.add(key(o));
                    }
                }
                return s;
            }
            case "builtins.bytearray" -> {
                if (args.size() == 0) {
                    return new byte[0];
                }
                if (args.get(0) instanceof byte[] b) {
                    return b;
                }
                throw fail("malformed pickle: bytearray argument " + kind(args.get(0)));
            }
            default -> throw fail("the global '" + g.qualified() + "' cannot be called here");
        }
    }

    private void requireNoHooks(Object hooks) throws IOException {
        if (hooks instanceof Map<?, ?> m && !m.isEmpty()) {
            throw fail("a tensor carries backward hooks, which are not supported (they are Python code)");
        }
    }

    private TensorRef rebuildTensor(Tuple a, boolean v2) throws IOException {
        if (a.size() < 4 || !(a.get(0) instanceof StorageRef s)) {
            throw fail("malformed pickle: _rebuild_tensor needs (storage, offset, size, stride, ...)");
        }
        long offset = asLong(a.get(1), "storage offset");
        long[] shape = longs(a.get(2), "size");
        long[] stride = longs(a.get(3), "stride");
        boolean grad = false;
        if (v2) {
            if (a.size() < 6 || a.size() > 7) {
                throw fail("malformed pickle: _rebuild_tensor_v2 takes 6 or 7 arguments, got " + a.size());
            }
            grad = Boolean.TRUE.equals(a.get(4));
            requireNoHooks(a.get(5));
            // the 7th argument (metadata, e.g. a conjugate/negative bit dict) is plain data: accepted and unused
        }
        if (shape.length != stride.length) {
            throw fail("a tensor has " + shape.length + " sizes but " + stride.length + " strides");
        }
        return new TensorRef(s, offset, shape, stride, grad);
    }

    private long asLong(Object o, String what) throws IOException {
        if (o instanceof Long l) {
            return l;
        }
        throw fail("malformed pickle: tensor " + what + " is a " + kind(o) + ", not an int");
    }

    private long[] longs(Object o, String what) throws IOException {
        Tuple t = tuple(o, "tensor " + what);
        long[] r = new long[t.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = asLong(t.get(i), what);
        }
        return r;
    }

    private void build(Object target, Object state) throws IOException {
        // OrderedDict state dicts carry their _metadata attribute this way; it holds version numbers only and is
        // dropped. Nothing else may be built.
        if (target instanceof LinkedHashMap<?, ?> && (state == null || state instanceof Map<?, ?>
                || (state instanceof Tuple t && t.size() == 2))) {
            return;
        }
        throw fail("malformed pickle: BUILD on a " + kind(target) + " is not supported");
    }
}
