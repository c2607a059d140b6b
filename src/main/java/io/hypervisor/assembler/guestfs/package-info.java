/**
 * Everything that touches libguestfs: the host probe (which accelerator works here), and later the
 * image session. The only package that imports libguestfs-java, so every other package builds and
 * tests without it.
 *
 * <p>Spec: ../shared/specs/libguestfs.md. May depend on: model, events.
 */
package io.hypervisor.assembler.guestfs;
