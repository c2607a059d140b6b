/**
 * The host's operating system: bindings to the C library through JNA for the few POSIX calls the
 * JDK lacks (mkfifo), and running host tools with a time limit ({@link
 * io.hypervisor.assembler.sys.Processes}). The only package that imports JNA; it needs no C
 * sources of its own (so there is no native/ tree).
 *
 * <p>Spec: POSIX mkfifo(3). May depend on: jna.
 */
package io.hypervisor.assembler.sys;
