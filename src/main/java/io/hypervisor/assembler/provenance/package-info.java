/**
 * What a built image is and where it came from, in the formats security tools read: SBOMs
 * (CycloneDX 1.6 and SPDX 2.3 JSON), SLSA provenance v1 as an in-toto statement in a DSSE envelope
 * signed with ECDSA P-256 (cosign verifies it), and SHA256SUMS with a detached OpenPGP signature
 * (gpgv verifies it); all deterministic for the same build (times from its epoch, identifiers
 * derived from content, stable order). See ../shared/specs/provenance-and-publishing.md.
 *
 * <p>May depend on: model, plan, oci, pkgrepo, content, jackson, bouncycastle.
 */
package io.hypervisor.assembler.provenance;
