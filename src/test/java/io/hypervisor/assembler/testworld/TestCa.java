package io.hypervisor.assembler.testworld;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;

/**
 * Certificates for the test world, made once per JVM with openssl: a CA and a server certificate
 * for 127.0.0.1/127.0.0.2/localhost (TLS registry mode), and a self-signed key pair the token
 * server signs JWTs with (its certificate is the registry's rootcertbundle).
 */
public final class TestCa {
  private static TestCa instance;
  public final Path dir;
  public final Path caCert;
  public final Path serverCert;
  public final Path serverKey;
  public final Path tokenCert;
  public final PrivateKey tokenKey;
  public final X509Certificate tokenCertificate;

  private TestCa(Path dir) throws Exception {
    this.dir = dir;
    caCert = dir.resolve("ca.crt");
    serverCert = dir.resolve("server.crt");
    serverKey = dir.resolve("server.key");
    tokenCert = dir.resolve("token.crt");
    Path caKey = dir.resolve("ca.key");
    Path tokenKeyFile = dir.resolve("token.key");
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3", "-subj", "/CN=assemble test CA",
        "-keyout", caKey.toString(), "-out", caCert.toString());
    Path csr = dir.resolve("server.csr");
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", serverKey.toString(),
        "-out", csr.toString());
    Path ext = dir.resolve("san.ext");
    Files.writeString(ext, "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost\n");
    openssl("x509", "-req", "-in", csr.toString(), "-CA", caCert.toString(), "-CAkey", caKey.toString(),
        "-CAcreateserial", "-days", "3", "-extfile", ext.toString(), "-out", serverCert.toString());
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3", "-subj", "/CN=assemble test token issuer",
        "-keyout", tokenKeyFile.toString(), "-out", tokenCert.toString());
    String pem = Files.readString(tokenKeyFile).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    tokenKey = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
    try (var in = Files.newInputStream(tokenCert)) {
      tokenCertificate = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }

  public static synchronized TestCa get() {
    if (instance == null) {
      try {
        Path dir = Files.createTempDirectory("assemble-test-ca");
        dir.toFile().deleteOnExit();
        instance = new TestCa(dir);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (Exception e) {
        throw new IllegalStateException("cannot make test certificates", e);
      }
    }
    return instance;
  }

  private static void openssl(String... args) {
    List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Tools.run(cmd).ok();
  }
}
