package org.dualdistill.data;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Videos sorted into one folder per class ({@code root/<class>/<video>}), like torchvision's {@code ImageFolder}:
 * classes are the sub-folders in alphabetical order, videos the files with a video extension in each, in
 * alphabetical order. Hidden entries are ignored.
 */
public final class FolderDataset extends ListDataset {
    /** The file extensions taken by default (lower case, without the dot). */
    public static final Set<String> DEFAULT_EXTENSIONS = Set.of("avi", "mp4", "mkv", "webm", "mov", "m4v", "mpg", "mpeg");

    private FolderDataset(String name, List<LabeledVideo> videos, List<String> classes) {
        super(name, videos, classes, List.of());
    }

    /**
     * Lists a folder with the default extensions.
     *
     * @param root the folder with one sub-folder per class
     * @return the dataset
     * @throws IOException if the folder cannot be listed, or holds no class folder ({@link AnnotationException})
     */
    public static FolderDataset load(Path root) throws IOException {
        return load(root, DEFAULT_EXTENSIONS);
    }

    /**
     * Lists a folder.
     *
     * @param root       the folder with one sub-folder per class
     * @param extensions file extensions to take (case-insensitive, without the dot)
     * @return the dataset
     * @throws IOException if the folder cannot be listed, or holds no class folder ({@link AnnotationException})
     */
    public static FolderDataset load(Path root, Set<String> extensions) throws IOException {
        if (!Files.isDirectory(root)) {
            throw new AnnotationException(root, 0, "not a folder");
        }
        List<Path> classDirs = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root, p -> Files.isDirectory(p) && !p.getFileName().toString().startsWith("."))) {
            ds.forEach(classDirs::add);
        }
        classDirs.sort(null);
        if (classDirs.isEmpty()) {
            throw new AnnotationException(root, 0, "no class folders");
        }
        List<String> classes = new ArrayList<>();
        List<LabeledVideo> videos = new ArrayList<>();
        for (int label = 0; label < classDirs.size(); label++) {
            Path dir = classDirs.get(label);
            String c = dir.getFileName().toString();
            classes.add(c);
            List<Path> files = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> Files.isRegularFile(p) && !p.getFileName().toString().startsWith(".")
                    && extensions.contains(extension(p)))) {
                ds.forEach(files::add);
            }
            files.sort(null);
            for (Path f : files) {
                videos.add(LabeledVideo.of(c + "/" + f.getFileName(), f, label));
            }
        }
        return new FolderDataset("folder " + root.getFileName(), videos, classes);
    }

    private static String extension(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot < 0 ? "" : n.substring(dot + 1).toLowerCase(Locale.ROOT);
    }
}
