package io.hypervisor.assembler.testworld;

/** The registry harness modes every registry client test runs against. */
public enum RegistryMode {
  PLAIN(TestRegistry.builder()),
  BASIC(TestRegistry.builder().auth(TestRegistry.Auth.BASIC)),
  TOKEN_ANONYMOUS(TestRegistry.builder().auth(TestRegistry.Auth.TOKEN)),
  TOKEN_CREDENTIALS(TestRegistry.builder().auth(TestRegistry.Auth.TOKEN_PRIVATE)),
  TLS(TestRegistry.builder().tls().auth(TestRegistry.Auth.BASIC)),
  REDIRECT(TestRegistry.builder().redirectBlobs().auth(TestRegistry.Auth.BASIC)),
  FAULT_PROXY(TestRegistry.builder().faults());

  private final TestRegistry.Builder builder;

  RegistryMode(TestRegistry.Builder b) {
    builder = b;
  }

  /** A registry in this mode, not started yet. */
  public TestRegistry registry() {
    return builder.build();
  }
}
