/**
 * Container images independent of where they come from: the {@link ImageSource} abstraction
 * (registry, OCI layout directory or tar, docker-save tar, content store), the JSON wire records
 * of OCI and Docker manifests, indexes and configs (kept apart from the model), platform
 * selection, pulling an image into the content store, and verifying every digest and size.
 *
 * <p>Spec: OCI image-spec, ../shared/specs/registry-client.md §1.3, §1.4, §2. May depend on:
 * model, content, jackson.
 */
package io.hypervisor.assembler.oci;
