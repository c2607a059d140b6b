/**
 * OCI image layouts (image-spec image-layout.md), read and written: a directory or a tar with
 * {@code oci-layout}, {@code index.json} and {@code blobs/<alg>/<hex>}. Written archives keep the
 * original top-level digest, name each image with {@code io.containerd.image.name} (full
 * reference) and {@code org.opencontainers.image.ref.name} (tag), and carry a docker
 * {@code manifest.json} too, so ctr, skopeo and docker load all read them.
 *
 * <p>Spec: ../shared/specs/registry-client.md §2.1, §2.5. May depend on: oci, model, content,
 * commons-compress.
 */
package io.hypervisor.assembler.oci.layout;
