/**
 * containerd's image store written as files, without running containerd: the content blobs and
 * the bbolt {@code meta.db} with containerd's {@code v1/<namespace>/…} schema (image records under
 * the three names CRI creates, content records with the garbage-collection reference labels a
 * real pull sets), for containerd 1.6/1.7 (metadata version 3) and 2.x (version 4). The tree is
 * produced once and delivered as a directory or as one tar stream.
 *
 * <p>Spec: ../shared/specs/containerd-store.md §0, §2, §3. May depend on: oci, bbolt, content,
 * model.
 */
package io.hypervisor.assembler.containerd;
