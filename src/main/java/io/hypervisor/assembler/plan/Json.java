package io.hypervisor.assembler.plan;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/** The JSON form of plans and locks: indented, keys of maps sorted, nulls left out, unknown fields refused. */
final class Json {
  static final ObjectMapper MAPPER = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
      .setSerializationInclusion(JsonInclude.Include.NON_NULL);

  private Json() {}
}
