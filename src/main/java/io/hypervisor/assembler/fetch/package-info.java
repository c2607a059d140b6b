/**
 * The one phase that touches the network: a plan and its lock into the content store — the base
 * image (verified by sha256 or by signed checksums), the repositories' pinned keys, every package
 * file of the lock, every image of the plan (pinned to the lock's digests) — and, for air-gapped
 * sites, the same from a bundle.
 *
 * <p>Spec: ../shared/DESIGN.md (the flow). May depend on: plan, content, oci.*, pkgrepo.*, http,
 * model, events, commons-compress, bouncycastle, jackson.
 */
package io.hypervisor.assembler.fetch;
