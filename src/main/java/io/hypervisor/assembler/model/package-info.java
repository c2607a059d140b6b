/**
 * Plain values shared by every package: digests, descriptors, media types, platforms, image and
 * package references, distributions, input problems and the failure taxonomy behind exit codes;
 * and the one named file lock the content store and the step cache both take.
 *
 * <p>Spec: OCI image-spec (descriptor.md, media-types.md), ../shared/DESIGN.md "Errors and exit
 * codes". May depend on: nothing but the JDK.
 */
package io.hypervisor.assembler.model;
