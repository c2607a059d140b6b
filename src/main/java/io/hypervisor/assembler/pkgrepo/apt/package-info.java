/**
 * The apt family: the base image's own sources (deb822 .sources and one-line .list, Signed-By,
 * arch=, flat repositories) plus the recipe's repositories with pinned keys; InRelease or
 * Release + Release.gpg verified, Valid-Until enforced, index files checked against the Release
 * hashes; Packages parsed as a stream; versions compared exactly as dpkg does; a deterministic,
 * minimal dependency resolver against the image's installed packages.
 *
 * <p>Spec: Debian Policy §5, §7, deb822(5), sources.list(5), apt-secure(8). May depend on:
 * pkgrepo, http, content, model, events, bouncycastle, xz, commons-compress.
 */
package io.hypervisor.assembler.pkgrepo.apt;
