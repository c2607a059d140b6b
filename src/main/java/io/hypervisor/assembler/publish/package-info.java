/**
 * Outputs users take as they are, made from a built image: a Vagrant box for the libvirt provider
 * ({@link io.hypervisor.assembler.publish.VagrantBox}) and a KubeVirt containerDisk pushed to a
 * registry with the build's SBOMs, provenance and checksums attached as OCI 1.1 artifacts
 * ({@link io.hypervisor.assembler.publish.Publisher}). Deterministic like the image: every time
 * from the build's epoch, fixed owners and modes, sorted entries.
 *
 * <p>Spec: ../shared/specs/provenance-and-publishing.md. May depend on: model, events, content,
 * oci, oci.registry, http, jackson.
 */
package io.hypervisor.assembler.publish;
