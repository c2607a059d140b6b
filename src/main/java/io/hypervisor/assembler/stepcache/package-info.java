/**
 * The step cache: the work disk as the package-installing steps left it, kept as a qcow2 layer
 * backed by the base image's blob and named by the digest of everything that produced it, so a
 * later build with the same inputs (another role of the same patch, a configuration-only rebuild)
 * starts from it instead of installing again; plus the facts a build reads from a base before
 * changing it, so such a build need not launch an appliance on the base first. Entries appear by
 * one atomic rename, are checked (sha256) before every reuse and removed when they fail.
 *
 * <p>Spec: ../shared/specs/reproducibility.md (a build from a layer must give the cold bytes).
 * May depend on: model, jackson.
 */
package io.hypervisor.assembler.stepcache;
