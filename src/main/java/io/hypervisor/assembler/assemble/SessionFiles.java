package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.pkgrepo.ImageFiles;
import java.io.IOException;
import java.util.List;

/** The package resolvers' view of an open image: its files, through the session. */
record SessionFiles(ImageSession session) implements ImageFiles {
  @Override
  public byte[] read(String path) throws IOException {
    return session.read(path);
  }

  @Override
  public List<String> list(String dir) throws IOException {
    return session.list(dir);
  }
}
