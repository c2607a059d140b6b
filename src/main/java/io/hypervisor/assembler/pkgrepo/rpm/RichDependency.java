package io.hypervisor.assembler.pkgrepo.rpm;

import io.hypervisor.assembler.pkgrepo.Capability;
import io.hypervisor.assembler.pkgrepo.Dependency;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns an rpm dependency — a plain capability or a rich ("boolean") one such as
 * {@code (pkgA >= 1.0 or pkgB)}, {@code (foo if bar)}, {@code (foo if bar else baz)} — into the
 * resolver's conjunction of {@link Dependency} entries. {@code and} gives several entries,
 * {@code or} alternatives, {@code if}/{@code unless} conditions; {@code with} is read as
 * {@code and} and {@code without} as its left side (both ask more of one package than the
 * resolver checks, so the result may install what rpm would then still accept). An {@code or}
 * of composite branches keeps only its first branch: installable, though perhaps not rpm's choice.
 */
final class RichDependency {
  private final List<String> tokens;
  private final String text;
  private int pos;

  private RichDependency(String text) {
    this.text = text;
    this.tokens = tokenize(text);
  }

  /** A plain capability from primary.xml's entry attributes. */
  static Dependency simple(Capability c) {
    return new Dependency(List.of(c), List.of(), List.of(), RpmVersion.SCHEME.format(c));
  }

  /** Parses a dependency as rpm writes it ("name", "name >= 1.0", or a parenthesised rich one). */
  static List<Dependency> parse(String text) {
    String t = text.trim();
    if (!t.startsWith("(")) {
      String[] f = t.split("\\s+");
      Capability c = f.length == 3 ? new Capability(f[0], Capability.Op.parse(sym(f[1])), f[2]) : Capability.of(f[0]);
      return List.of(simple(c));
    }
    RichDependency p = new RichDependency(t);
    Node n = p.expr();
    if (p.pos != p.tokens.size()) {
      throw new IllegalArgumentException("unexpected \"" + p.tokens.get(p.pos) + "\" in rich dependency " + text);
    }
    List<Dependency> out = new ArrayList<>();
    p.lower(n, List.of(), List.of(), out);
    return out;
  }

  private static String sym(String op) {
    switch (op) {
      case "<": return "LT";
      case ">": return "GT";
      case "==": return "EQ";
      default: return op;
    }
  }

  /** A parsed expression: a capability, or an operator with operands. */
  private record Node(Capability cap, String op, List<Node> args) {}

  private static List<String> tokenize(String s) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    int depth = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      // A name may itself contain parentheses (perl(Foo::Bar), pkgconfig(x)): only a "(" at the
      // start of a token opens a group.
      if (c == '(' && cur.length() == 0) {
        out.add("(");
      } else if (c == '(') {
        depth++;
        cur.append(c);
      } else if (c == ')' && depth > 0) {
        depth--;
        cur.append(c);
      } else if (c == ')') {
        flush(cur, out);
        out.add(")");
      } else if (Character.isWhitespace(c)) {
        flush(cur, out);
      } else {
        cur.append(c);
      }
    }
    flush(cur, out);
    return out;
  }

  private static void flush(StringBuilder cur, List<String> out) {
    if (cur.length() > 0) {
      out.add(cur.toString());
      cur.setLength(0);
    }
  }

  private static final List<String> OPS = List.of("and", "or", "if", "else", "with", "without", "unless");

  private String next() {
    if (pos >= tokens.size()) {
      throw new IllegalArgumentException("rich dependency ends early: " + text);
    }
    return tokens.get(pos++);
  }

  private String peek() {
    return pos < tokens.size() ? tokens.get(pos) : null;
  }

  /** "(" term (op term)* ")" — rpm forbids mixing operators without parentheses, except if/else. */
  private Node expr() {
    if (!next().equals("(")) {
      throw new IllegalArgumentException("a rich dependency starts with \"(\": " + text);
    }
    List<Node> args = new ArrayList<>();
    args.add(term());
    String op = null;
    while (!")".equals(peek())) {
      String o = next();
      if (!OPS.contains(o)) {
        throw new IllegalArgumentException("unknown operator \"" + o + "\" in rich dependency " + text);
      }
      op = op == null ? o : (op.equals("if") && o.equals("else")) || (op.equals("unless") && o.equals("else"))
          ? op + "-else" : op;
      args.add(term());
    }
    next();
    return args.size() == 1 ? args.get(0) : new Node(null, op, args);
  }

  private Node term() {
    if ("(".equals(peek())) {
      return expr();
    }
    String name = next();
    String p = peek();
    if (p != null && p.matches("[<>=]=?")) {
      next();
      return new Node(new Capability(name, Capability.Op.parse(sym(p)), next()), null, List.of());
    }
    return new Node(Capability.of(name), null, List.of());
  }

  /** The alternatives of an or-chain of plain capabilities; null if a branch is composite. */
  private static List<Capability> alternatives(Node n) {
    if (n.cap() != null) {
      return List.of(n.cap());
    }
    if (!n.op().equals("or")) {
      return null;
    }
    List<Capability> out = new ArrayList<>();
    for (Node a : n.args()) {
      List<Capability> sub = alternatives(a);
      if (sub == null) {
        return null;
      }
      out.addAll(sub);
    }
    return out;
  }

  private void lower(Node n, List<Capability> onlyIf, List<Capability> unless, List<Dependency> out) {
    List<Capability> alts = alternatives(n);
    if (alts != null) {
      out.add(new Dependency(alts, onlyIf, unless, text));
      return;
    }
    // Nested conditions keep only the innermost one: the resolver checks one condition list.
    switch (n.op()) {
      case "and", "with" -> n.args().forEach(a -> lower(a, onlyIf, unless, out));
      case "or", "without" -> lower(n.args().get(0), onlyIf, unless, out);
      case "if", "if-else" -> {
        List<Capability> cond = alternatives(n.args().get(1));
        if (cond == null) {
          return; // a composite condition: the dependency is optional for our purpose
        }
        lower(n.args().get(0), cond, unless, out);
        if (n.op().equals("if-else")) {
          lower(n.args().get(2), onlyIf, cond, out);
        }
      }
      case "unless", "unless-else" -> {
        List<Capability> cond = alternatives(n.args().get(1));
        if (cond == null) {
          return;
        }
        lower(n.args().get(0), onlyIf, cond, out);
        if (n.op().equals("unless-else")) {
          lower(n.args().get(2), cond, unless, out);
        }
      }
      default -> throw new IllegalArgumentException("unknown operator " + n.op() + " in " + text);
    }
  }
}
