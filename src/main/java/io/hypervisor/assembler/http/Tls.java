package io.hypervisor.assembler.http;

import io.hypervisor.assembler.model.SmallFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * TLS for one host: extra CA certificates (added to the JDK's trust, not replacing it), a client
 * certificate, or — only when configured for that host — no verification at all.
 */
public record Tls(List<Path> caFiles, Path clientCert, Path clientKey, boolean skipVerify) {
  public static final Tls DEFAULT = new Tls(List.of(), null, null, false);

  public Tls {
    caFiles = List.copyOf(caFiles);
  }

  public boolean isDefault() {
    return this.equals(DEFAULT);
  }

  /** The SSL context this host needs. */
  public SSLContext context() throws IOException {
    try {
      TrustManager[] trust;
      if (skipVerify) {
        trust = new TrustManager[] {new X509TrustManager() {
          @Override
          public void checkClientTrusted(X509Certificate[] chain, String authType) { }

          @Override
          public void checkServerTrusted(X509Certificate[] chain, String authType) { }

          @Override
          public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
          }
        }};
      } else {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        // The JDK's own CAs, so an extra CA file extends trust rather than replacing it.
        TrustManagerFactory jdk = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        jdk.init((KeyStore) null);
        int i = 0;
        for (TrustManager tm : jdk.getTrustManagers()) {
          if (tm instanceof X509TrustManager x) {
            for (X509Certificate c : x.getAcceptedIssuers()) {
              ks.setCertificateEntry("jdk-" + i++, c);
            }
          }
        }
        for (Path ca : caFiles) {
          for (Certificate c : certificates(ca)) {
            ks.setCertificateEntry("ca-" + i++, c);
          }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        trust = tmf.getTrustManagers();
      }
      javax.net.ssl.KeyManager[] keys = null;
      if (clientCert != null && clientKey != null) {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("client", privateKey(clientKey), new char[0],
            certificates(clientCert).toArray(new Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        keys = kmf.getKeyManagers();
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(keys, trust, null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IOException("setting up TLS (CA " + caFiles + ", client certificate " + clientCert + "): "
          + e.getMessage(), e);
    }
  }

  private static Collection<? extends Certificate> certificates(Path file) throws IOException,
      GeneralSecurityException {
    try (InputStream in = new java.io.ByteArrayInputStream(SmallFiles.read(file, SmallFiles.KEY, "certificate file"))) {
      return CertificateFactory.getInstance("X.509").generateCertificates(in);
    }
  }

  private static PrivateKey privateKey(Path file) throws IOException, GeneralSecurityException {
    String pem = SmallFiles.readString(file, SmallFiles.KEY, "private key file");
    if (!pem.contains("BEGIN PRIVATE KEY")) {
      throw new GeneralSecurityException(file + ": expected a PKCS#8 key (BEGIN PRIVATE KEY); convert with "
          + "openssl pkcs8 -topk8 -nocrypt");
    }
    byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
    List<String> algorithms = new ArrayList<>(List.of("RSA", "EC", "Ed25519"));
    for (String alg : algorithms) {
      try {
        return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        // try the next algorithm
      }
    }
    throw new GeneralSecurityException(file + ": not an RSA, EC or Ed25519 private key");
  }
}
