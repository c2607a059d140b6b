/**
 * What the core tells the outside world while it works: step start/finish with durations, byte
 * progress, log lines and warnings. Core code never prints; the CLI renders these events.
 *
 * <p>Spec: ../shared/DESIGN.md "Rules of the flow". May depend on: model.
 */
package io.hypervisor.assembler.events;
