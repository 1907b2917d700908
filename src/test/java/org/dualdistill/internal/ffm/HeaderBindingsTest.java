package org.dualdistill.internal.ffm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/**
 * jextract is not on CI machines, so this test guards the committed bindings against the header: the header's
 * fingerprint must be the one regen.sh recorded, and every function, constant and struct field the header declares
 * must exist in the generated classes with the same arity, value and layout name.
 */
class HeaderBindingsTest {
    static final Path ROOT = Path.of(System.getProperty("dualdistill.sourceRoot", "."));
    static final Path HEADER = ROOT.resolve("jextract/dualdistill_kernels.h");

    static String header() throws IOException {
        return Files.readString(HEADER);
    }

    @Test
    void headerFingerprintMatchesTheLastRegeneration() throws Exception {
        String recorded = Files.readString(ROOT.resolve("jextract/bindings.sha256")).trim();
        String actual = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(HEADER)));
        assertEquals(recorded, actual, "jextract/dualdistill_kernels.h changed since the bindings were generated: run jextract/regen.sh");
    }

    @Test
    void everyFunctionHasABindingWithTheSameArity() throws IOException {
        Matcher m = Pattern.compile("(?m)^(?:const\\s+)?\\w+\\s*\\*?\\s*(dd_\\w+)\\(([^)]*)\\);").matcher(header());
        int n = 0;
        while (m.find()) {
            String name = m.group(1);
            String params = m.group(2).trim();
            int arity = params.equals("void") || params.isEmpty() ? 0 : params.split(",").length;
            Method found = null;
            for (Method meth : DualdistillNative.class.getMethods()) {
                if (meth.getName().equals(name) && Modifier.isStatic(meth.getModifiers())) {
                    found = meth;
                }
            }
            assertTrue(found != null, "no binding for " + name);
            assertEquals(arity, found.getParameterCount(), "arity of " + name);
            n++;
        }
        assertEquals(12, n, "functions declared in the header");
    }

    @Test
    void everyConstantHasTheHeadersValue() throws Exception {
        String h = header();
        List<String[]> constants = new ArrayList<>();
        Matcher def = Pattern.compile("(?m)^#define\\s+(DD_[A-Z_]+)\\s+(\\d+)").matcher(h);
        while (def.find()) {
            constants.add(new String[] {def.group(1), def.group(2)});
        }
        Matcher en = Pattern.compile("(?m)^\\s+(DD_[A-Z0-9_]+)\\s*=\\s*(\\d+)").matcher(h);
        while (en.find()) {
            constants.add(new String[] {en.group(1), en.group(2)});
        }
        assertTrue(constants.size() >= 25, "parsed " + constants.size() + " constants");
        for (String[] c : constants) {
            Object v = DualdistillNative.class.getMethod(c[0]).invoke(null);
            assertEquals(Integer.parseInt(c[1]), ((Number) v).intValue(), c[0]);
        }
    }

    @Test
    void everyStructFieldHasALayoutMember() throws IOException {
        String h = header();
        java.util.Map<String, java.lang.foreign.StructLayout> structs = java.util.Map.of(
                "dd_datw_params", (java.lang.foreign.StructLayout) dd_datw_params.layout(),
                "dd_sdd_params", (java.lang.foreign.StructLayout) dd_sdd_params.layout(),
                "dd_rkd_params", (java.lang.foreign.StructLayout) dd_rkd_params.layout(),
                "dd_dwconv3d_params", (java.lang.foreign.StructLayout) dd_dwconv3d_params.layout());
        assertEquals(structs.size(), h.split("typedef struct ", -1).length - 1, "structs declared in the header");
        for (var e : structs.entrySet()) {
            String name = e.getKey();
            String body = h.substring(h.indexOf("typedef struct " + name + " {"), h.indexOf("} " + name + ";"));
            Matcher f = Pattern.compile("(?m)^\\s+[\\w\\s*]+?\\*?\\s*(\\w+)(\\[\\w+\\])?;").matcher(body);
            List<String> fields = new ArrayList<>();
            while (f.find()) {
                fields.add(f.group(1));
            }
            List<String> named = new ArrayList<>();
            for (MemoryLayout l : e.getValue().memberLayouts()) {
                l.name().filter(nm -> !nm.startsWith("$") && !nm.matches("padding.*")).ifPresent(named::add);
            }
            assertEquals(fields, named, "struct " + name + " fields (header vs generated layout)");
        }
    }
}
