/**
 * The build as an ordered list of named phases ({@link io.hypervisor.assembler.assemble.Assembler}),
 * with or, from a step cache layer, without an appliance (the root's tree changed on the host:
 * {@code TreeImage}, {@code HostPartitions}), and the facades the CLI calls: planning and locking, the host doctor, output (qemu-img),
 * catalogue manifest, static verification through a read-only appliance, and boot verification
 * under qemu-system with a NoCloud seed.
 *
 * <p>Spec: ../shared/DESIGN.md "The flow", ../shared/specs/libguestfs.md. May depend on:
 * everything except cli.
 */
package io.hypervisor.assembler.assemble;
