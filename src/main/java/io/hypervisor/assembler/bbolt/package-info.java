/**
 * The bbolt file format (etcd-io/bbolt, format version 2), pure Java and without any knowledge of
 * containerd: an in-memory tree of buckets, a writer that lays it out as pages (metas with
 * FNV-1a checksums, empty freelist, leaf and branch pages, overflow, inline buckets), a reader,
 * and a checker equivalent to bbolt's {@code tx.Check()} plus the key-order rules bbolt ≥ 1.3.7
 * enforces at open.
 *
 * <p>Spec: ../shared/specs/containerd-store.md §1. May depend on: nothing but the JDK.
 */
package io.hypervisor.assembler.bbolt;
