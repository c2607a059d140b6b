package io.hypervisor.assembler.pkgrepo.rpm;

import io.hypervisor.assembler.model.Digest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

/** {@code repodata/repomd.xml}: where each metadata file is and its checksum. */
record RepoMd(long revision, Map<String, Data> data) {
  /** One metadata file (primary, filelists, …). */
  record Data(String type, String href, Digest checksum, long size) {}

  static RepoMd parse(byte[] xml, String what) throws IOException {
    Map<String, Data> out = new LinkedHashMap<>();
    long revision = 0;
    try {
      XMLStreamReader r = Xml.reader(new ByteArrayInputStream(xml));
      String type = null;
      String href = null;
      Digest sum = null;
      long size = -1;
      String text = null;
      String checksumType = null;
      while (r.hasNext()) {
        int ev = r.next();
        if (ev == XMLStreamConstants.START_ELEMENT) {
          switch (r.getLocalName()) {
            case "data" -> {
              type = r.getAttributeValue(null, "type");
              href = null;
              sum = null;
              size = -1;
            }
            case "location" -> href = r.getAttributeValue(null, "href");
            case "checksum" -> checksumType = r.getAttributeValue(null, "type");
            default -> { }
          }
          text = null;
        } else if (ev == XMLStreamConstants.CHARACTERS) {
          text = text == null ? r.getText() : text + r.getText();
        } else if (ev == XMLStreamConstants.END_ELEMENT) {
          String v = text == null ? "" : text.trim();
          switch (r.getLocalName()) {
            case "checksum" -> sum = checksum(checksumType, v, what);
            case "size" -> size = Long.parseLong(v);
            case "revision" -> revision = v.matches("\\d+") ? Long.parseLong(v) : 0;
            case "data" -> {
              if (type != null && href != null && sum != null) {
                out.put(type, new Data(type, href, sum, size));
              }
            }
            default -> { }
          }
          text = null;
        }
      }
    } catch (XMLStreamException | NumberFormatException e) {
      throw new IOException(what + " is not valid repomd.xml: " + e.getMessage(), e);
    }
    return new RepoMd(revision, out);
  }

  /** createrepo_c writes sha256 by default; sha512 is accepted, the broken sha1/md5 are not. */
  static Digest checksum(String type, String hex, String what) throws IOException {
    String t = type == null ? "" : type.toLowerCase(java.util.Locale.ROOT);
    if (t.equals("sha256") || t.equals("sha512")) {
      return Digest.parse(t + ":" + hex.toLowerCase(java.util.Locale.ROOT));
    }
    throw new IOException(what + " uses " + type + " checksums; only sha256 and sha512 are accepted");
  }
}
