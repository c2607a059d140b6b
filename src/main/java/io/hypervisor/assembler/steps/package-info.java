/**
 * The build's steps, one class per capability (repositories, packages, kernel, swap, SELinux and
 * firewalld, services, containerd configuration, image store, cloud-init, cleanup, finish), each
 * a small function of an open image and its options record, reading only the content store and
 * its options: no network, no plan lookups at run time.
 *
 * <p>Spec: ../shared/DESIGN.md, ../shared/specs/libguestfs.md §5–6. May depend on: model, plan,
 * content, guestfs, containerd, events.
 */
package io.hypervisor.assembler.steps;
