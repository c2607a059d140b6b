package io.hypervisor.assembler.testworld;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** skopeo, a real client, sees every fixture image in every mode of the registry harness. */
@Tag("integration")
class RegistryHarnessIT {

  static final ObjectMapper JSON = new ObjectMapper();

  static Tools.Result skopeo(TestRegistry r, String... args) {
    List<String> cmd = new ArrayList<>(List.of("skopeo", args[0]));
    cmd.addAll(r.skopeoFlags(""));
    cmd.addAll(List.of(args).subList(1, args.length));
    return Tools.run(cmd);
  }

  static String sha256(String s) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
  }

  @ParameterizedTest
  @EnumSource(RegistryMode.class)
  void skopeoInspectsEveryFixtureImageWithItsRecordedDigest(RegistryMode mode) throws Exception {
    try (TestRegistry r = mode.registry().start()) {
      for (Fixtures.PublishedImage img : Fixtures.publishedImages()) {
        String ref = "docker://" + r.host() + "/" + img.path();
        Tools.Result raw = skopeo(r, "inspect", "--raw", ref).ok();
        assertEquals(img.digest(), sha256(raw.out()), mode + " " + img.reference());
        JsonNode inspect = JSON.readTree(skopeo(r, "inspect", ref).ok().out());
        assertEquals(img.digest(), inspect.get("Digest").asText(), mode + " " + img.reference());
        assertEquals("linux", inspect.get("Os").asText(), img.reference());
      }
      if (mode == RegistryMode.REDIRECT) {
        List<StaticServer.Request> hops = r.redirectTarget().requests();
        assertFalse(hops.isEmpty(), "blob requests were redirected to " + r.redirectTarget().url());
        assertTrue(hops.stream().noneMatch(StaticServer.Request::hasAuthorization),
            "skopeo does not carry credentials across the redirect");
      }
      if (mode == RegistryMode.TOKEN_ANONYMOUS) {
        assertTrue(r.tokenServer().issued() > 0);
      }
    }
  }

  @Test
  void credentialsAreRequiredWhereTheModeSaysSo() {
    try (TestRegistry r = RegistryMode.TOKEN_CREDENTIALS.registry().start()) {
      Tools.Result anonymous = Tools.run(List.of("skopeo", "inspect", "--raw", "--tls-verify=false",
          "docker://" + r.host() + "/pause:3.10.1"));
      assertNotEquals(0, anonymous.code());
      Tools.Result wrong = Tools.run(List.of("skopeo", "inspect", "--raw", "--tls-verify=false",
          "--creds=" + TestRegistry.USER + ":wrong", "docker://" + r.host() + "/pause:3.10.1"));
      assertNotEquals(0, wrong.code());
    }
    try (TestRegistry r = RegistryMode.BASIC.registry().start()) {
      Tools.Result anonymous = Tools.run(List.of("skopeo", "inspect", "--raw", "--tls-verify=false",
          "docker://" + r.host() + "/pause:3.10.1"));
      assertNotEquals(0, anonymous.code());
    }
  }

  @Test
  void theFaultProxyMisbehavesOnTheWireAsAsked() throws Exception {
    try (TestRegistry r = RegistryMode.FAULT_PROXY.registry().start()) {
      Fixtures.PublishedImage big = Fixtures.published("ghcr.io/hypervisor-io/bench-large:1gib");
      JsonNode manifest = JSON.readTree(skopeo(r, "inspect", "--raw", "docker://" + r.host() + "/" + big.path()).ok().out());
      String blob = r.url() + "/v2/hypervisor-io/bench-large/blobs/" + manifest.get("layers").get(1).get("digest").asText();

      r.faults().inject(new FaultProxy.Rule("GET", "/blobs/", 1, new FaultProxy.TooManyRequests(7)));
      Tools.Result limited = Tools.run(List.of("curl", "-sS", "-o", "/dev/null", "-D", "-", blob));
      assertTrue(limited.out().startsWith("HTTP/1.1 429"), limited.out());
      assertTrue(limited.out().contains("Retry-After: 7"), limited.out());

      r.faults().inject(new FaultProxy.Rule("GET", "/blobs/", 1, new FaultProxy.Status(503)));
      assertEquals("503", Tools.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", blob)).out());

      r.faults().inject(new FaultProxy.Rule("GET", "/blobs/", 1, new FaultProxy.Cut(1 << 20)));
      Tools.Result cut = Tools.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", blob));
      assertEquals(18, cut.code(), "curl: partial file; " + cut.err());
      assertEquals(Integer.toString(1 << 20), cut.out());

      r.faults().inject(new FaultProxy.Rule("GET", "/blobs/", 1, new FaultProxy.Stall(1 << 20)));
      Tools.Result stalled = Tools.run(List.of("curl", "-sS", "-o", "/dev/null", "--max-time", "3", "-w", "%{size_download}", blob));
      assertEquals(28, stalled.code(), "curl: timeout; " + stalled.err());
      assertEquals(Integer.toString(1 << 20), stalled.out());

      Tools.Result whole = Tools.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", blob));
      assertEquals("200 " + manifest.get("layers").get(1).get("size").asText(), whole.out(), "faults are used up");
    }
  }
}
