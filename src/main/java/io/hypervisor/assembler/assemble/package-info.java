/**
 * The build as an ordered list of named steps, and the facades the CLI calls: planning, the host
 * doctor, output (qemu-img), catalogue manifest, SBOM and verification.
 *
 * <p>Spec: ../shared/DESIGN.md "The flow". May depend on: everything except cli.
 */
package io.hypervisor.assembler.assemble;
