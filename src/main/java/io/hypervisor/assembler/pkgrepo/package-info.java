/**
 * Package repositories, shared by the apt and rpm families: OpenPGP verification against pinned
 * keys (Bouncy Castle), the resolver candidates and the one dependency resolver both families
 * use (a {@link io.hypervisor.assembler.pkgrepo.VersionScheme} holds what differs), the small
 * interface through which the image's own configuration is read, and downloads into the content
 * store verified against the signed index's sha256 and size.
 *
 * <p>Spec: RFC 4880/9580 (OpenPGP), ../shared/DESIGN.md. May depend on: http, content, model,
 * events, bouncycastle, xz, commons-compress.
 */
package io.hypervisor.assembler.pkgrepo;
