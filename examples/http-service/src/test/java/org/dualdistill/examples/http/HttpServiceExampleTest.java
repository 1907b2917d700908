package org.dualdistill.examples.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.bytedeco.pytorch.global.torch;
import org.dualdistill.export.ModelCard;
import org.dualdistill.export.StudentExport;
import org.dualdistill.model.x3d.X3d;
import org.dualdistill.video.EncoderOptions;
import org.dualdistill.video.VideoCodec;
import org.dualdistill.video.VideoEncoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The service with tiny settings: a 4-class X3D export, a 48x32 video, port 0. */
class HttpServiceExampleTest {
    @Test
    void healthAndClassifyOverHttp(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("model");
        torch.manual_seed(1);
        try (X3d s = X3d.builder().widthFactor(0.5).depthFactor(0.5).headDimOut(64).numClasses(4).clipLength(4).crop(32).build()) {
            StudentExport.write(model, s, ModelCard.builder(s.config(), List.of("a", "b", "c", "d")).optInput(4, 2, 32, 32).build());
        }
        Path video = dir.resolve("v.avi");
        try (VideoEncoder enc = VideoEncoder.open(video, EncoderOptions.builder(VideoCodec.MPEG4, 48, 32).optFrameRate(25).build())) {
            for (int t = 0; t < 12; t++) {
                byte[] rgb = new byte[48 * 32 * 3];
                for (int i = 0; i < rgb.length; i++) {
                    rgb[i] = (byte) ((i * 7 + t * 13) & 0xff);
                }
                enc.writeFrame(rgb);
            }
        }
        ObjectMapper json = new ObjectMapper();
        HttpClient http = HttpClient.newHttpClient();
        try (HttpServiceExample.Service s = HttpServiceExample.runExample(new String[] {"--model", model.toString(), "--port", "0",
                "--threads", "2", "--top-k", "3"})) {
            String base = "http://127.0.0.1:" + s.port();
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());
            assertEquals("ok", json.readTree(health.body()).get("status").asText());

            HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create(base + "/classify?name=v.avi"))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(Files.readAllBytes(video))).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode(), ok.body());
            JsonNode preds = json.readTree(ok.body()).get("predictions");
            assertEquals(3, preds.size());
            assertTrue(preds.get(0).get("probability").asDouble() >= preds.get(1).get("probability").asDouble());

            HttpResponse<String> bad = http.send(HttpRequest.newBuilder(URI.create(base + "/classify?name=junk.mp4"))
                    .POST(HttpRequest.BodyPublishers.ofString("not a video")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(400, bad.statusCode());
            assertTrue(json.readTree(bad.body()).get("error").asText().startsWith("junk.mp4: "), bad.body());

            HttpResponse<String> again = http.send(HttpRequest.newBuilder(URI.create(base + "/classify?name=v.avi"))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(Files.readAllBytes(video))).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(ok.body(), again.body(), "a bad request does not change later answers");
            assertEquals(2, s.classifier().stats().requests());
        }
    }
}
