package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.plan.Plan;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The checks a booted node runs on itself, as a POSIX shell script the NoCloud seed delivers, and
 * the machine-readable lines it prints on the serial console: {@code @@assemble|STATUS|name|detail@@},
 * one {@code write} each (so kernel messages cannot split a line), then
 * {@code @@assemble|DONE|count|@@}. Checks wait for cloud-init to finish first.
 */
final class BootChecks {
  static final String MARK = "@@assemble|";
  private static final Pattern LINE = Pattern.compile(Pattern.quote(MARK) + "(OK|FAIL|WARN|SKIP|DONE)\\|([^|@]*)\\|([^@]*)@@");

  /** A console line that carries a check, or the end marker (status DONE, name = how many checks). */
  record Line(String status, String name, String detail) {
    boolean done() {
      return status.equals("DONE");
    }

    Check check() {
      return new Check(name, Check.Status.valueOf(status), detail);
    }
  }

  private BootChecks() {}

  static Optional<Line> parse(String consoleLine) {
    Matcher m = LINE.matcher(consoleLine);
    return m.find() ? Optional.of(new Line(m.group(1), m.group(2).trim(), m.group(3).trim())) : Optional.empty();
  }

  /** The image names containerd must list for this plan's role (tags as pulled), sorted. */
  static List<String> expectedImages(Plan plan) {
    TreeSet<String> names = new TreeSet<>();
    plan.images().forEach(i -> names.add(i.ref()));
    return List.copyOf(names);
  }

  /** The script the seed's runcmd starts (detached, so cloud-init can finish while it waits). */
  static String script(Plan plan, String console) {
    String version = "v" + plan.kubernetes().version();
    String images = String.join("\n", expectedImages(plan));
    String sandbox = plan.containerd().sandboxImage();
    return """
        #!/bin/sh
        # Boot checks of assemble verify --boot: each prints one line on the serial console.
        export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        export LC_ALL=C  # byte order for sort, as the planned list is sorted
        CONSOLE=%s
        n=0
        say() {
          n=$((n + 1))
          d=$(printf '%%s' "$3" | tr '\\n|@' '  _' | cut -c1-400)
          printf '%%s%%s|%%s|%%s@@\\n' '%s' "$1" "$2" "$d" >> "$CONSOLE"
        }
        # check NAME DETAIL-ON-SUCCESS COMMAND...: OK when the command succeeds, FAIL with its output otherwise
        check() {
          name=$1; shift
          if out=$("$@" 2>&1); then say OK "$name" "$out"; else say FAIL "$name" "$out"; fi
        }
        cloud-init status --wait > /dev/null 2>&1
        check "cloud-init finished" sh -c 'cloud-init status --long | grep -v -e "^$" -e "^boot_status_code" -e "^last_update"; cloud-init status | grep -q "status: done"'
        check "cloud-init datasource" sh -c 'ds=$(cloud-init query platform 2>/dev/null; grep -o "DataSource[A-Za-z]*" /run/cloud-init/status.json | head -n 1); echo $ds; echo "$ds" | grep -q -i nocloud'
        check "cloud-init datasources enabled" python3 -c '
        from cloudinit import util
        ds = util.read_conf_with_confd("/etc/cloud/cloud.cfg").get("datasource_list") or []
        print(", ".join(ds))
        raise SystemExit(0 if "NoCloud" in ds and "ConfigDrive" in ds else 1)'
        check "seed write_files" test -s /etc/hypervisor.io/cluster.json
        check "kubelet not started" sh -c 'a=$(systemctl is-active kubelet.service); e=$(systemctl is-enabled kubelet.service); echo "$a, $e"; [ "$a" != active ] && [ "$a" != activating ] && [ "$e" != enabled ]'
        check "containerd active" systemctl is-active containerd.service
        check "containerd cri" sh -c 'v=$(containerd --version 2>&1 | cut -d" " -f3); p=$(ctr plugins ls 2>&1 | grep -E "^io.containerd.grpc.v1[[:space:]]+cri[[:space:]]" | tr -s " " | sed "s/ *$//"); echo "containerd $v: ${p:-no cri plugin}"; echo "$p" | grep -q -E " ok$"'
        check "qemu-guest-agent active" systemctl is-active qemu-guest-agent.service
        check "modules loaded" sh -c 'for m in overlay br_netfilter; do [ -d /sys/module/$m ] || { echo "$m not loaded"; exit 1; }; done; echo overlay, br_netfilter'
        check "sysctl live" sh -c 'r=0; for k in net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv4.ip_forward; do v=$(sysctl -n $k 2>&1); echo "$k=$v"; [ "$v" = 1 ] || r=1; done; exit $r'
        check "no swap" sh -c 'if [ $(wc -l < /proc/swaps) -gt 1 ]; then tail -n +2 /proc/swaps; exit 1; fi; echo none active'
        check "kubelet version" sh -c 'v=$(kubelet --version 2>&1); echo $v; echo "$v" | grep -q -w -F %s'
        check "kubeadm version" sh -c 'v=$(kubeadm version -o short 2>&1); echo $v; echo "$v" | grep -q -w -F %s'
        check "kubectl version" sh -c 'v=$(kubectl version --client 2>&1 | head -n 1); echo $v; echo "$v" | grep -q -w -F %s'
        want=$(mktemp); have=$(mktemp)
        sort > "$want" <<'IMAGES'
        %s
        IMAGES
        ctr -n k8s.io images ls -q 2>&1 | grep -v -e '^sha256:' -e '@sha256:' | sort > "$have"
        check "ctr images" sh -c "if cmp -s '$want' '$have'; then echo \\$(wc -l < '$have') images as planned; else echo missing: \\$(comm -23 '$want' '$have'), unexpected: \\$(comm -13 '$want' '$have'); exit 1; fi"
        check "sandbox image pinned" sh -c 'v=$(containerd --version 2>&1 | cut -d" " -f3 | sed "s/^v//"); l=$(ctr -n k8s.io images ls 2>&1 | grep "^%s "); case $v in 1.[0-6].*) echo "containerd $v does not pin"; exit 0;; esac; echo "$l" | grep -o "io.cri-containerd.pinned=pinned" || { echo "containerd $v, no pinned label: $l"; exit 1; }'
        if crictl images -q > /dev/null 2>&1; then
          check "crictl images" sh -c "n=\\$(crictl images -q | sort -u | wc -l); echo \\$n images; [ \\$n -gt 0 ]"
        else
          say SKIP "crictl images" "$(crictl --version 2>&1 | head -n 1): cannot list images"
        fi
        check "container runs offline" sh -c 'ctr -n k8s.io run -d %s assemble-boot-check > /dev/null && sleep 3 && ctr -n k8s.io task ls | grep assemble-boot-check | grep -q RUNNING && echo "%s running"; r=$?; ctr -n k8s.io task kill -s KILL assemble-boot-check > /dev/null 2>&1; sleep 1; ctr -n k8s.io task delete assemble-boot-check > /dev/null 2>&1; ctr -n k8s.io containers rm assemble-boot-check > /dev/null 2>&1; exit $r'
        check "fresh machine-id" sh -c 'id=$(cat /etc/machine-id); echo $id; echo "$id" | grep -q -E "^[0-9a-f]{32}$"'
        check "fresh ssh host keys" sh -c 'ls /etc/ssh/ssh_host_*_key | tr "\\n" " "; ls /etc/ssh/ssh_host_*_key > /dev/null 2>&1'
        printf '%%sDONE|%%s|@@\\n' '%s' "$n" >> "$CONSOLE"
        """.formatted(console, MARK, version, version, version, images, sandbox, sandbox, sandbox, MARK);
  }

  /**
   * The NoCloud user-data: the platform's contract (a {@code write_files} entry for
   * {@code /etc/hypervisor.io/cluster.json}) plus the check script, started by runcmd through
   * systemd-run so it can wait for cloud-init to finish.
   */
  static String userData(Plan plan, String console) {
    String script = script(plan, console).indent(6);
    return """
        #cloud-config
        write_files:
          - path: /etc/hypervisor.io/cluster.json
            permissions: '0600'
            content: |
              {"cluster": "assemble-boot-verify", "note": "written by the NoCloud seed of assemble verify --boot"}
          - path: /run/assemble/boot-checks.sh
            permissions: '0755'
            content: |
        %s
        runcmd:
          - [systemd-run, --unit=assemble-boot-checks, --no-block, /bin/sh, /run/assemble/boot-checks.sh]
        """.formatted(script.stripTrailing());
  }

  static String metaData(String instanceId) {
    return "instance-id: " + instanceId + "\nlocal-hostname: assemble-boot-verify\n";
  }
}
