/**
 * From a validated recipe to a fully described, deterministic plan: the Kubernetes bill of
 * materials (a data file under resources), the repositories, packages, images per role, files,
 * units and steps of the build, and the output and catalogue entry. Planning needs no network.
 *
 * <p>Spec: ../shared/specs/kubernetes-versions.md, README.md "Plan". May depend on: model,
 * recipe, jackson.
 */
package io.hypervisor.assembler.plan;
