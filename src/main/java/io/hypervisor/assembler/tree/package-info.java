/**
 * An image's root file tree, for reproducible builds: read from a tar stream into a canonical
 * form ({@link io.hypervisor.assembler.tree.RootTree}: sorted, times clamped, extended attributes
 * kept), described by a manifest ({@link io.hypervisor.assembler.tree.Mtree}, whose sha256 is the
 * tree digest), compared ({@link io.hypervisor.assembler.tree.TreeDiff}), and rebuilt as a fresh
 * ext4 file system in one pass ({@link io.hypervisor.assembler.tree.Ext4Rebuild}), the only way an
 * edited ext4 root comes out byte for byte the same twice.
 *
 * <p>Spec: ../shared/specs/reproducibility.md. May depend on: model, content, sys.
 */
package io.hypervisor.assembler.tree;
