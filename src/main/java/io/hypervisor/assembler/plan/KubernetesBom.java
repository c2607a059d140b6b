package io.hypervisor.assembler.plan;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Kubernetes bill of materials shipped as {@code kubernetes-bom.yaml}: kubeadm's image
 * versions per patch range, supported containerd lines, CNI and add-on versions per minor.
 */
public final class KubernetesBom {
  /** Registry of the kubeadm images. */
  public static final String K8S_REGISTRY = "registry.k8s.io";

  /** The whole data file. */
  record Data(Map<String, Minor> minors, Map<String, CniData> cni,
      Map<String, String> distroContainerd) {}

  /** One Kubernetes minor release. */
  public record Minor(int latestPatch, boolean endOfLife, List<KubeadmRange> kubeadm,
      ContainerdLines containerd, Map<String, String> cni, String metricsServer,
      String autoscaler) {}

  /** kubeadm's etcd/coredns/pause from patch {@code from} on (null = unchanged). */
  public record KubeadmRange(int from, String etcd, String coredns, String pause) {}

  /** Supported containerd lines with their floors, and the default line. */
  public record ContainerdLines(@JsonProperty("default") String defaultLine,
      Map<String, String> lines, List<String> avoid) {
    public ContainerdLines {
      avoid = avoid == null ? List.of() : avoid;
    }
  }

  /** Image templates of one CNI and the per-release tags of its side images. */
  record CniData(List<String> images, Map<String, String> envoy, Map<String, String> cniPlugin) {}

  /** kubeadm's versions of etcd, coredns and pause for one patch. */
  public record KubeadmImages(String etcd, String coredns, String pause) {}

  private final Data data;

  private KubernetesBom(Data data) {
    this.data = data;
  }

  /** Loads the data file shipped in the jar. */
  public static KubernetesBom load() {
    ObjectMapper m = new ObjectMapper(new YAMLFactory())
        .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);
    try (InputStream in = KubernetesBom.class.getResourceAsStream("kubernetes-bom.yaml")) {
      return new KubernetesBom(m.readValue(in, Data.class));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the bundled kubernetes-bom.yaml", e);
    }
  }

  /** Supported minors, oldest first. */
  public List<String> minors() {
    List<String> l = new ArrayList<>(data.minors().keySet());
    l.sort(Versions::compare);
    return l;
  }

  public Optional<Minor> minor(String minor) {
    return Optional.ofNullable(data.minors().get(minor));
  }

  /** kubeadm's images for a patch (patches past the table get the newest known entry). */
  public KubeadmImages kubeadmImages(String minor, int patch) {
    Minor m = data.minors().get(minor);
    String etcd = null;
    String coredns = null;
    String pause = null;
    for (KubeadmRange r : m.kubeadm()) {
      if (r.from() <= patch) {
        etcd = r.etcd() != null ? r.etcd() : etcd;
        coredns = r.coredns() != null ? r.coredns() : coredns;
        pause = r.pause() != null ? r.pause() : pause;
      }
    }
    return new KubeadmImages(etcd, coredns, pause);
  }

  /**
   * The images of a CNI release; throws {@link IllegalArgumentException} when the data lacks a
   * side image's tag for that release.
   */
  public List<String> cniImages(String cni, String version) {
    CniData c = data.cni().get(cni);
    if (c == null) {
      throw new IllegalArgumentException("unknown CNI " + cni);
    }
    List<String> out = new ArrayList<>();
    for (String t : c.images()) {
      String s = t.replace("{version}", version);
      if (s.contains("{envoy}")) {
        s = s.replace("{envoy}", side(c.envoy(), cni, version, "cilium-envoy"));
      }
      if (s.contains("{cniPlugin}")) {
        s = s.replace("{cniPlugin}", side(c.cniPlugin(), cni, version, "flannel-cni-plugin"));
      }
      out.add(s);
    }
    return out;
  }

  private static String side(Map<String, String> tags, String cni, String version, String image) {
    String tag = tags == null ? null : tags.get(version);
    if (tag == null) {
      throw new IllegalArgumentException("the bill of materials has no " + image + " tag for "
          + cni + " " + version + " (known releases: " + String.join(", ",
          tags == null ? List.of() : tags.keySet().stream().sorted(Versions::compare).toList()) + ")");
    }
    return tag;
  }

  /** Releases of a CNI the data knows every image of (for hints). */
  public List<String> knownCniReleases(String cni) {
    CniData c = data.cni().get(cni);
    Map<String, String> side = c.envoy() != null ? c.envoy() : c.cniPlugin();
    return side == null ? List.of() : side.keySet().stream().sorted(Versions::compare).toList();
  }

  /** The containerd version of a distribution's own package, if it has one. */
  public Optional<String> distroContainerd(String distro) {
    return Optional.ofNullable(data.distroContainerd().get(distro));
  }
}
