package org.dualdistill.recipe;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.dualdistill.model.ModelPreset;
import org.dualdistill.model.ModelView;
import org.dualdistill.model.ModelZoo;
import org.dualdistill.train.TrainConfig;

/**
 * A config resolved against the registry and the dataset: which presets, at which views, how many classes, on which
 * device. {@link #config()} is the same run with every default made explicit (views, classes, device): the config a
 * checkpoint or export records, from which a resume or an evaluation rebuilds the same models. Immutable and
 * thread-safe.
 *
 * @param config     the resolved config
 * @param model      the model being trained
 * @param teachers   the frozen teachers, in config order (empty for cross-entropy training)
 * @param device     {@code cpu} or {@code cuda:N}
 * @param classNames the dataset's classes in label order (empty when rebuilt from a checkpoint alone)
 */
public record RunPlan(TrainConfig config, Member model, List<Member> teachers, String device, List<String> classNames) {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * One model of the run.
     *
     * @param role    {@code model}, {@code vit} or {@code cnn}; also the name of its batch view ({@code student}
     *                for the model)
     * @param preset  its registry entry
     * @param view    its resolved view
     * @param weights teacher weights file, or null
     */
    public record Member(String role, ModelPreset preset, ModelView view, Path weights) {
        /** @return the batch view this model takes */
        public String viewName() {
            return role.equals("model") ? "student" : role;
        }
    }

    public RunPlan {
        teachers = List.copyOf(teachers);
        classNames = List.copyOf(classNames);
    }

    /** @return head classes */
    public long numClasses() {
        return config.model().numClasses();
    }

    /** @return the teacher of a role, or null */
    public Member teacher(String role) {
        for (Member m : teachers) {
            if (m.role().equals(role)) {
                return m;
            }
        }
        return null;
    }

    /**
     * The plan as JSON ({@code --dry-run}): every model (registry name, parameters, GMACs, view, weights), the device
     * and precision, the objective's weights, optimizer, schedule, data and run settings. Builds each model once to
     * count it (on the CPU).
     *
     * @return pretty-printed JSON
     */
    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", describe(model));
        List<Object> ts = new ArrayList<>();
        for (Member t : teachers) {
            ts.add(describe(t));
        }
        m.put("teachers", ts);
        m.put("device", device);
        m.put("precision", config.run().precision());
        m.put("objective", teachers.isEmpty() ? Map.of("crossEntropy", 1.0, "labelSmoothing", config.objective().labelSmoothing())
                : config.objective());
        m.put("optimizer", config.optimizer());
        m.put("schedule", config.schedule());
        m.put("data", config.data());
        m.put("run", config.run());
        try {
            return JSON.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("plan is not serializable", e);
        }
    }

    private Map<String, Object> describe(Member mem) {
        ModelZoo.Stats s = ModelZoo.stats(mem.preset(), numClasses(), mem.view());
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("role", mem.role());
        d.put("arch", mem.preset().name());
        d.put("description", mem.preset().description());
        d.put("numClasses", numClasses());
        d.put("params", s.params());
        d.put("gmacs", s.gmacs());
        d.put("featureChannels", s.featureChannels());
        d.put("view", mem.view());
        if (!mem.role().equals("model")) {
            d.put("weights", mem.weights() == null ? null : mem.weights().toString()); // null: untrained
        }
        return d;
    }
}
