package io.hypervisor.assembler.pkgrepo.rpm;

import io.hypervisor.assembler.pkgrepo.Source;
import java.util.List;
import org.bouncycastle.openpgp.PGPPublicKeyRingCollection;

/**
 * One rpm-md repository to resolve from: base URLs (tried in order) or a mirror list, the keys
 * trusted for it, whether its repomd.xml must carry a detached signature, and where it was
 * configured. Packages are always signature-checked ({@code gpgcheck}); a repository that turns
 * that off is refused when it is read.
 */
public record RpmRepository(String name, List<String> baseUrls, String mirrorList,
    PGPPublicKeyRingCollection keys, MetadataSignature metadataSignature, String origin) {

  /** What to demand of {@code repomd.xml.asc}. */
  public enum MetadataSignature {
    /** Must exist and verify (repo_gpgcheck=1; pkgs.k8s.io). */
    REQUIRED,
    /** Verified when the server has one; packages are signature-checked either way. */
    IF_PRESENT,
    /** Not looked at (repo_gpgcheck=0, the distributions' default); packages are signature-checked. */
    OFF
  }

  public RpmRepository {
    baseUrls = baseUrls.stream().map(u -> u.endsWith("/") ? u : u + "/").toList();
    if (baseUrls.isEmpty() && mirrorList == null) {
      throw new IllegalArgumentException("repository " + name + " has neither a baseurl nor a mirror list");
    }
  }

  public Source source() {
    return new Source(name, origin, origin.startsWith("image"));
  }

  public String describe() {
    return name + " (" + (baseUrls.isEmpty() ? "mirrorlist " + mirrorList : String.join(" ", baseUrls)) + ")";
  }

  /** The same repository from another base URL (a site mirror). */
  public RpmRepository withBaseUrl(String url) {
    return new RpmRepository(name, List.of(url), null, keys, metadataSignature, origin);
  }
}
