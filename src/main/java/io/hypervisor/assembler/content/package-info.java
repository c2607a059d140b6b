/**
 * The content-addressed store (CAS): blobs named by digest under {@code <cache>/blobs/sha256/},
 * written through verifying ingests (temp file beside the target, size cap and hash while
 * streaming, rename only when both match), safe for concurrent builds (file locks) and for
 * {@code kill -9} at any point (only whole, verified blobs ever carry a blob name; partial
 * downloads are resumed after re-hashing).
 *
 * <p>Spec: ../shared/specs/registry-client.md §7.4. May depend on: model, events.
 */
package io.hypervisor.assembler.content;
