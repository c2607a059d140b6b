/**
 * The rpm family: {@code repodata/repomd.xml} with its detached signature verified against the
 * repository's pinned key, {@code primary.xml} (gz, xz, zstd, bz2) parsed as a stream,
 * versions compared as rpmvercmp does (epochs, {@code ~} and {@code ^}), Requires/Provides with
 * file provides and rich dependencies, the image's installed set from {@code rpm -qa}, the
 * image's own {@code .repo} files, and package header signatures checked on download.
 *
 * <p>Spec: createrepo_c's repomd/primary schema, rpm's lib/rpmvercmp.c and rpm.org's
 * "Boolean Dependencies" and "RPM file format" pages. May depend on: pkgrepo, http, content,
 * model, events, bouncycastle, xz, commons-compress.
 */
package io.hypervisor.assembler.pkgrepo.rpm;
