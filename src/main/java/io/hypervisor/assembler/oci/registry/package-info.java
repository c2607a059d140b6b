/**
 * The registry client as an {@link io.hypervisor.assembler.oci.ImageSource}: the distribution
 * spec's pull flow with the full Accept list and digest checks, authentication per origin
 * (WWW-Authenticate, anonymous and credentialed bearer tokens cached per scope, Basic, docker
 * config.json with credential helpers), and per-host settings from containerd's hosts.toml /
 * certs.d layout (mirrors, CA, client certificates, skip_verify, plain HTTP only when asked).
 * Credentials never appear in messages.
 *
 * <p>Spec: distribution-spec, ../shared/specs/registry-client.md §1. May depend on: oci, http,
 * model, events, content, jackson.
 */
package io.hypervisor.assembler.oci.registry;
