/**
 * YAML from files node-doctor does not control (kubelet's config, kubeconfigs,
 * its own config): aliases bounded so a "billion laughs" document cannot
 * expand, nesting and size bounded before the document is built, and the
 * library's warnings kept off stderr — a problem with the document is
 * reported by the caller, naming the path, or not at all.
 *
 * Why a pre-pass: the yaml library builds its syntax tree recursively and
 * keeps about 2 KiB per node. Measured on Node 24: a 1 MB flow sequence
 * nested 500,000 deep took 697 MiB and 6 s before "Maximum call stack size
 * exceeded"; 500,000 items in one flat list, 628 MiB. The library's own
 * lexer and parser, driven one token at a time, see the depth and the token
 * count as they grow, so such a document is refused after at most
 * YAML_LIMITS.maxTokens tokens (about 25 MiB, 100 ms) with the line it got to.
 */
import { Lexer, parse, Parser } from "yaml";

export const YAML_LIMITS = {
  /** Collections inside collections: kubelet's config and kubeconfigs nest under 10. */
  maxDepth: 64,
  /** Lexical tokens (a key, a value, an indicator, a line break): a kubeconfig has about 150, a large agent config 10,000. */
  maxTokens: 50_000,
} as const;

/** A document refused for its shape before parsing, with where it got to. */
export class YamlLimitError extends Error {
  constructor(
    readonly problem: string,
    readonly line: number,
  ) {
    super(`${problem} (at line ${line}): node-doctor refuses such documents before parsing them`);
    this.name = "YamlLimitError";
  }
}

/** The lexer's control tokens (document start, scalar marker, flow error, BOM) are not source text. */
const CONTROL = new Set(["\x02", "\x18", "\x1f", "\u{FEFF}"]);

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** Throws YamlLimitError when the document nests deeper or holds more tokens than the limits. */
export function checkYamlShape(text: string, limits: { maxDepth: number; maxTokens: number } = YAML_LIMITS): void {
  const parser = new Parser();
  let tokens = 0;
  let offset = 0;
  for (const lexeme of new Lexer().lex(text)) {
    if (!(lexeme.length === 1 && CONTROL.has(lexeme))) offset += lexeme.length;
    if (++tokens > limits.maxTokens) throw new YamlLimitError(`more than ${limits.maxTokens} tokens`, lineAt(text, offset));
    for (const _ of parser.next(lexeme)) {
      // Finished documents are dropped: only the open stack is measured.
    }
    // The stack holds the document and each open collection (a block map's value adds one level).
    if (parser.stack.length > limits.maxDepth) throw new YamlLimitError(`nested more than ${limits.maxDepth} levels deep`, lineAt(text, offset));
  }
}

export function parseUntrustedYaml(text: string): unknown {
  checkYamlShape(text);
  return parse(text, { maxAliasCount: 100, logLevel: "error" });
}
