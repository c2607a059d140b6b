package io.hypervisor.assembler.assemble;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpException;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.oci.registry.CredentialStore;
import io.hypervisor.assembler.oci.registry.HostsConfig;
import io.hypervisor.assembler.oci.registry.RegistryPusher;
import io.hypervisor.assembler.plan.Attestor;
import io.hypervisor.assembler.publish.Publisher;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code assemble publish IMAGE REF} (and {@code output.publish} after a build): the image pushed
 * as a KubeVirt containerDisk by digest, its catalogue manifest given the reference by digest in
 * place of the URL placeholder, the checksums sealed again (and signed again when they were),
 * the SBOMs, provenance and checksums attached as OCI 1.1 artifacts, and the tag put last.
 */
public final class ImagePublish {
  /** What was published: the reference by digest, blobs uploaded and skipped, artifacts attached. */
  public record Result(String reference, String tagged, int uploaded, int skipped, int mounted, int attached) {}

  private static final ObjectMapper JSON = new ObjectMapper();
  /** Media and artifact types of the documents beside an image, by their key in the manifest's {@code files}. */
  private static final Map<String, String[]> TYPES = Map.of(
      "sbomCycloneDx", new String[] {"application/vnd.cyclonedx+json", "application/vnd.cyclonedx+json"},
      "sbomSpdx", new String[] {"application/spdx+json", "application/spdx+json"},
      "provenance", new String[] {"application/vnd.dsse.envelope.v1+json", "application/vnd.in-toto+json"},
      "checksums", new String[] {"text/plain", "application/vnd.assemble.sha256sums"},
      "checksumsSignature", new String[] {"application/pgp-signature", "application/vnd.assemble.sha256sums.sig"});
  private static final List<String> ORDER = List.of("sbomCycloneDx", "sbomSpdx", "provenance", "checksums",
      "checksumsSignature");

  private final Settings settings;
  private final EventSink events;

  public ImagePublish(Settings settings, EventSink events) {
    this.settings = settings;
    this.events = events;
  }

  /**
   * Publishes {@code image} to {@code reference} (which must carry a tag) for {@code platform};
   * {@code attestor} seals the checksums again with the keys given (a signed image needs the
   * signing key again: its checksums change with the manifest).
   */
  public Result publish(Path image, String reference, String platform, ImageTools.Access access, Attestor attestor,
      boolean signing) {
    try {
      return publish(image, reference, platform, ImageTools.hosts(access), access.http().withOffline(settings.offline()),
          attestor, signing);
    } catch (IOException e) {
      throw AssemblerException.input("cannot read the registry settings: " + e.getMessage(), "check --hosts-dir");
    }
  }

  /** {@code output.publish} after a build: to the plan's reference, through the recipe's registry hosts. */
  public Result publishPlanned(io.hypervisor.assembler.plan.Plan plan, Path image, Attestor attestor, boolean signing) {
    HostsConfig hosts;
    try {
      hosts = io.hypervisor.assembler.fetch.Fetcher.hosts(plan);
    } catch (IOException e) {
      throw AssemblerException.input("cannot read the recipe's registry settings: " + e.getMessage(),
          "check the recipe's mirrors");
    }
    return publish(image, plan.output().publish(), plan.base().platform(), hosts,
        io.hypervisor.assembler.http.HttpSettings.defaults().withOffline(settings.offline()), attestor, signing);
  }

  /** The same with the given registry hosts. */
  public Result publish(Path image, String reference, String platform, HostsConfig hosts,
      io.hypervisor.assembler.http.HttpSettings http, Attestor attestor, boolean signing) {
    ImageRef ref;
    try {
      ref = ImageRef.parse(reference);
    } catch (IllegalArgumentException e) {
      throw AssemblerException.input("cannot publish to " + reference + ": " + e.getMessage(),
          "give REGISTRY/REPOSITORY:TAG, e.g. registry.example.org/kubevirt/node:1.34.2");
    }
    if (ref.tag() == null || ref.digest() != null || !reference.contains(":")
        || reference.lastIndexOf(':') < reference.lastIndexOf('/')) {
      throw AssemblerException.input("cannot publish to " + reference + ": it needs a tag and no digest",
          "give REGISTRY/REPOSITORY:TAG; the digest is the registry's answer, recorded in the catalogue manifest");
    }
    if (!Files.isRegularFile(image)) {
      throw AssemblerException.input("no image at " + image, "give the path of a built image");
    }
    String stem = image.getFileName().toString().replaceFirst("\\.qcow2$", "");
    Path manifest = image.resolveSibling(stem + ".json");
    JsonNode m;
    try {
      m = JSON.readTree(io.hypervisor.assembler.model.SmallFiles.read(manifest, io.hypervisor.assembler.model.SmallFiles.LOCK,
          "catalogue manifest"));
    } catch (IOException e) {
      throw AssemblerException.input("cannot read the catalogue manifest beside " + image + ": " + e.getMessage(),
          "publish an image as a build wrote it, with NAME.json beside it");
    }
    JsonNode files = m.path("files");
    if (files.has("checksumsSignature") && !signing) {
      throw AssemblerException.input("the checksums of " + image + " are signed, and publishing changes them (the "
          + "catalogue manifest records the reference)", "give --sign-key again so they are signed again");
    }
    long epoch = m.path("sourceDateEpoch").asLong();
    Path work;
    try {
      work = WorkDirs.create(settings.workDir(), "build-");
    } catch (IOException e) {
      throw AssemblerException.host("cannot create a directory under " + settings.workDir() + ": " + e.getMessage(),
          "check --work");
    }
    try (EventSink.Step step = events.step("publish", ref.toString())) {
      RegistryPusher pusher = new RegistryPusher(hosts, CredentialStore.fromEnvironment(System.getenv()),
          http, events, System.getenv(), ref);
      // Published before to another repository of this registry: its blobs can be mounted, not sent.
      String from = null;
      try {
        ImageRef before = ImageRef.parse(m.path("published").asText(""));
        if (before.registry().equals(ref.registry()) && !before.repository().equals(ref.repository())) {
          from = before.repository();
        }
      } catch (IllegalArgumentException e) {
        from = null; // never published, or not a reference
      }
      Publisher p = new Publisher(pusher, events, from);
      Publisher.Disk disk = p.push(image, ref, platform, epoch, work);
      // The manifest names the published reference; the checksums over it are made (and signed) again.
      byte[] updated = io.hypervisor.assembler.assemble.CatalogueManifest.published(Files.readAllBytes(manifest),
          disk.byDigest());
      Path tmp = manifest.resolveSibling("." + manifest.getFileName() + ".tmp");
      Files.write(tmp, updated);
      Files.move(tmp, manifest, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      List<String> sealed = new ArrayList<>(List.of(image.getFileName().toString(), manifest.getFileName().toString()));
      files.fields().forEachRemaining(e -> {
        if (!e.getKey().startsWith("checksums")) {
          sealed.add(e.getValue().asText());
        }
      });
      if (m.hasNonNull("vagrantBox")) {
        sealed.add(2, m.at("/vagrantBox/file").asText());
      }
      Map<String, String> seals = attestor.seal(image.getParent(), sealed);
      List<Publisher.Attachment> attachments = new ArrayList<>();
      for (String key : ORDER) {
        String name = seals.containsKey(key) ? seals.get(key) : files.path(key).asText(null);
        if (name != null && Files.isRegularFile(image.resolveSibling(name))) {
          String[] t = TYPES.get(key);
          attachments.add(new Publisher.Attachment(image.resolveSibling(name), t[0], t[1]));
        }
      }
      int attached = p.attach(disk, attachments, epoch);
      p.tag(disk);
      step.ok(disk.byDigest() + ", " + p.uploaded() + " blobs uploaded, " + p.skipped() + " already there, "
          + p.mounted() + " mounted, " + attached + " artifacts attached");
      return new Result(disk.byDigest(), ref.toString(), p.uploaded(), p.skipped(), p.mounted(), attached);
    } catch (HttpException e) {
      int s = e.status();
      throw s == 401 || s == 403 || s == 413 || (s >= 400 && s < 500)
          ? AssemblerException.input("publishing " + image + " to " + reference + ": " + e.getMessage(),
              "check the reference, the credentials (docker config.json) and the registry's limits; nothing was tagged")
          : AssemblerException.failed("publishing " + image + " to " + reference + ": " + e.getMessage(),
              "run it again: blobs already uploaded are not sent again; nothing was tagged");
    } catch (IOException e) {
      throw AssemblerException.failed("publishing " + image + " to " + reference + ": " + e.getMessage(),
          "run it again: blobs already uploaded are not sent again; nothing was tagged");
    } finally {
      WorkDirs.delete(work);
    }
  }
}
