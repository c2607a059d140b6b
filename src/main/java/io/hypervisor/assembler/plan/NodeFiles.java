package io.hypervisor.assembler.plan;

import java.util.List;
import java.util.Map;

/**
 * The contents of the configuration files a node image carries. Plain text templates on purpose:
 * each file reads exactly as an admin would write it, and tests parse the TOML/YAML back.
 */
final class NodeFiles {
  static final String CONTAINERD_SOCKET = "unix:///run/containerd/containerd.sock";
  static final String CERTS_D = "/etc/containerd/certs.d";
  static final String CONTAINERD_CONFIG = "/etc/containerd/config.toml";

  private NodeFiles() {}

  static String modules(List<String> modules) {
    return "# Kernel modules Kubernetes needs (written by assemble).\n" + String.join("\n", modules)
        + "\n";
  }

  static String sysctl(Map<String, String> values) {
    StringBuilder b = new StringBuilder("# Kernel settings for Kubernetes (written by assemble).\n");
    values.forEach((k, v) -> b.append(k).append(" = ").append(v).append('\n'));
    return b.toString();
  }

  /**
   * containerd's whole config, replacing the package's (Docker's containerd.io ships one with CRI
   * disabled). containerd 1.x reads config version 2, 2.x reads version 3 (kubernetes-versions.md).
   */
  static String containerdConfig(int configVersion, String sandboxImage) {
    if (configVersion == 2) {
      return """
          # containerd configuration for a Kubernetes node (written by assemble).
          version = 2
          disabled_plugins = []

          [plugins."io.containerd.grpc.v1.cri"]
            sandbox_image = "%s"

            [plugins."io.containerd.grpc.v1.cri".containerd]
              default_runtime_name = "runc"

              [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                runtime_type = "io.containerd.runc.v2"

                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                  SystemdCgroup = true

            [plugins."io.containerd.grpc.v1.cri".registry]
              config_path = "%s"
          """.formatted(sandboxImage, CERTS_D);
    }
    return """
        # containerd configuration for a Kubernetes node (written by assemble).
        version = 3
        disabled_plugins = []

        [plugins."io.containerd.cri.v1.images"]

          [plugins."io.containerd.cri.v1.images".pinned_images]
            sandbox = "%s"

          [plugins."io.containerd.cri.v1.images".registry]
            config_path = "%s"

        [plugins."io.containerd.cri.v1.runtime"]

          [plugins."io.containerd.cri.v1.runtime".containerd]
            default_runtime_name = "runc"

            [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
              runtime_type = "io.containerd.runc.v2"

              [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
                SystemdCgroup = true
        """.formatted(sandboxImage, CERTS_D);
  }

  /** The upstream a hosts.toml names in {@code server} (Docker Hub's API host differs). */
  static String upstream(String registry) {
    return registry.equals("docker.io") ? "https://registry-1.docker.io" : "https://" + registry;
  }

  /** containerd hosts.toml for one registry (containerd docs/hosts.md). */
  static String hostsToml(String registry, List<Plan.Mirror> mirrors) {
    StringBuilder b = new StringBuilder("# Registry mirrors (written by assemble).\n");
    if (!registry.equals("_default")) {
      b.append("server = \"").append(upstream(registry)).append("\"\n");
    }
    for (Plan.Mirror m : mirrors) {
      b.append("\n[host.\"").append(m.url()).append("\"]\n");
      b.append("  capabilities = [").append(String.join(", ",
          m.capabilities().stream().map(c -> "\"" + c + "\"").toList())).append("]\n");
      if (m.ca() != null) {
        b.append("  ca = \"").append(m.ca()).append("\"\n");
      }
      if (m.skipVerify()) {
        b.append("  skip_verify = true\n");
      }
    }
    return b.toString();
  }

  static String crictl() {
    return """
        runtime-endpoint: %s
        image-endpoint: %s
        timeout: 10
        """.formatted(CONTAINERD_SOCKET, CONTAINERD_SOCKET);
  }

  /**
   * cloud-init datasources. The distro's own 90_dpkg.cfg sets datasource_list too; files merge in
   * sorted order and the last one wins, so ours sorts after it ('9' '9' '_' 'n' &gt; '9' '0').
   */
  static String cloudInitDatasources() {
    return """
        # Datasources of the platform (written by assemble): NoCloud and ConfigDrive.
        datasource_list: [ NoCloud, ConfigDrive, None ]
        """;
  }

  /** An apt source in deb822 form. */
  static String aptSource(Plan.Repository r) {
    StringBuilder b = new StringBuilder("Types: deb\n");
    b.append("URIs: ").append(r.url()).append('\n');
    b.append("Suites: ").append(r.suite()).append('\n');
    if (!r.components().isEmpty()) {
      b.append("Components: ").append(String.join(" ", r.components())).append('\n');
    }
    if (r.architecture() != null) {
      b.append("Architectures: ").append(r.architecture()).append('\n');
    }
    b.append("Signed-By: ").append(r.keyringPath()).append('\n');
    return b.toString();
  }

  /** A dnf .repo file; the key is read from the image, so it works without the key URL. */
  static String dnfRepo(Plan.Repository r, String title) {
    StringBuilder b = new StringBuilder();
    b.append('[').append(r.name()).append("]\n");
    b.append("name=").append(title).append('\n');
    b.append("baseurl=").append(r.url()).append('\n');
    b.append("enabled=1\ngpgcheck=1\nrepo_gpgcheck=1\n");
    b.append("gpgkey=file://").append(r.keyringPath()).append('\n');
    if (!r.exclude().isEmpty()) {
      b.append("exclude=").append(String.join(" ", r.exclude())).append('\n');
    }
    return b.toString();
  }
}
