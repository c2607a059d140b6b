package io.hypervisor.assembler.provenance;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.plan.BuildRecord;
import io.hypervisor.assembler.plan.Lock;
import java.util.Map;

/**
 * SLSA provenance v1 as an in-toto statement v1: the subjects (the image and its SBOMs, by
 * sha256), the build definition (the recipe files, the plan's and the lock's digests, every
 * resolved dependency: the base image, every package file and every container image with its URI
 * and digest) and the run details (the assembler and its version). No clock: the only time is the
 * build's epoch, so the same build states the same thing.
 */
final class SlsaProvenance {
  static final String STATEMENT = "https://in-toto.io/Statement/v1";
  static final String PREDICATE = "https://slsa.dev/provenance/v1";
  static final String BUILD_TYPE = "https://hypervisor.io/assemble/node-image/v1";

  private SlsaProvenance() {}

  /** The statement; {@code subjects} maps file name to sha256 (hex), in the order given. */
  static ObjectNode statement(BuildRecord r, Map<String, String> subjects) {
    ObjectNode s = Json.object();
    s.put("_type", STATEMENT);
    ArrayNode subject = s.putArray("subject");
    subjects.forEach((name, sha) -> subject.addObject().put("name", name).putObject("digest").put("sha256", sha));
    s.put("predicateType", PREDICATE);
    ObjectNode pred = s.putObject("predicate");
    ObjectNode def = pred.putObject("buildDefinition");
    def.put("buildType", BUILD_TYPE);
    ObjectNode ext = def.putObject("externalParameters");
    ArrayNode recipes = ext.putArray("recipe");
    r.recipes().forEach(f -> recipes.addObject().put("path", f.path()).putObject("digest").put("sha256", f.sha256()));
    ext.put("name", r.plan().name());
    ext.put("kubernetesVersion", r.plan().kubernetes().version());
    ext.put("role", r.plan().kubernetes().role());
    ext.put("base", r.plan().base().distro());
    ObjectNode internal = def.putObject("internalParameters");
    internal.putObject("plan").put("sha256", r.planSha256());
    internal.putObject("lock").put("sha256", r.lockSha256());
    internal.put("sourceDateEpoch", r.epoch().getEpochSecond());
    ArrayNode deps = def.putArray("resolvedDependencies");
    ObjectNode base = deps.addObject();
    base.put("name", "base image");
    base.put("uri", r.base().uri());
    Digest baseDigest = Digest.parse(r.base().digest());
    base.putObject("digest").put(baseDigest.algorithm(), baseDigest.encoded());
    for (Lock.Package p : r.lock().packages()) {
      ObjectNode d = deps.addObject();
      d.put("name", p.name() + " " + p.version() + " " + p.architecture());
      d.put("uri", p.url());
      d.putObject("digest").put("sha256", p.sha256());
    }
    for (BuildRecord.SeededImage i : r.images()) {
      ObjectNode d = deps.addObject();
      d.put("name", i.ref());
      d.put("uri", "oci://" + i.ref().replaceFirst("[:@][^/]*$", "") + "@" + i.digest());
      Digest dg = Digest.parse(i.digest());
      d.putObject("digest").put(dg.algorithm(), dg.encoded());
      d.putObject("annotations").put("platform", i.platform()).put("platformManifest", i.manifestDigest());
    }
    ObjectNode run = pred.putObject("runDetails");
    ObjectNode builder = run.putObject("builder");
    builder.put("id", "https://hypervisor.io/assemble@" + r.tool());
    builder.putObject("version").put("assemble", r.tool());
    run.putObject("metadata").put("invocationId", r.plan().name() + "@" + r.image().sha256().substring(0, 16));
    return s;
  }
}
