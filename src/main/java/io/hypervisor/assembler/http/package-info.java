/**
 * The one HTTP transport (the JDK's HttpURLConnection, HTTP/1.1; see HttpTransport for why not
 * java.net.http): redirects followed by hand (Authorization
 * only to the origin that asked for it), retries with backoff honouring Retry-After, downloads
 * that resume with Range under strict Content-Range checks, a stall watchdog, proxies from
 * HTTPS_PROXY/HTTP_PROXY/NO_PROXY, per-host TLS, byte progress, and offline refusal.
 *
 * <p>Spec: ../shared/specs/registry-client.md §1.5, §1.7, §6, §7. May depend on: model, events.
 */
package io.hypervisor.assembler.http;
