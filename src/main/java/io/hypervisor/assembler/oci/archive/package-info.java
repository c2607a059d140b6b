/**
 * Image archives other tools write: {@code docker save} (legacy, and the OCI-layout form of
 * Docker 25+), {@code ctr export}, skopeo's {@code docker-archive:} and {@code oci-archive:}. An
 * archive that is an OCI layout is read as one; a legacy docker-save archive gets a synthesised
 * Docker schema 2 manifest, as {@code ctr images import} does (so its digests differ from the
 * registry's).
 *
 * <p>Spec: ../shared/specs/registry-client.md §2.2–2.4. May depend on: oci, oci.layout, model,
 * content, commons-compress.
 */
package io.hypervisor.assembler.oci.archive;
