/**
 * What a regular expression's source says about it, read from its tokens
 * (`ret`, the tokenizer fastify's safe-regex2 uses): whether it can backtrack
 * exponentially, which literal text every match must contain, and its named
 * groups. Syntax `ret` does not know (lookbehind) yields "cannot tell".
 */
import retModule, { types as tokenTypes, type Root, type Token, type Tokens } from "ret";

// ret's module.exports is the tokenizer itself, which Node's CommonJS interop (and esbuild's) hands
// over as the default import; its type declarations describe an ES module with a `default` instead.
const tokenize: (source: string) => Root = typeof retModule === "function" ? retModule : retModule.default;

function tokens(source: string): Root | undefined {
  try {
    return tokenize(source);
  } catch {
    return undefined;
  }
}

function children(token: Tokens): Token[][] {
  const out: Token[][] = [];
  if ("options" in token && token.options) out.push(...token.options);
  if ("stack" in token && token.stack) out.push(token.stack);
  return out;
}

/**
 * A quantifier inside a quantifier, each free to match a varying count —
 * `(a+)+`, `(\w+\s?)*`, `(x{1,9}){2,}` — makes a backtracking engine take
 * exponential time on a line that almost matches, and a regex runs on the
 * event loop: one hostile log line would stall the whole agent. Exact counts
 * (`(\d{1,3}\.){3}`) give no choice and pass. safe-regex2 also rejects those
 * exact counts (an IPv4 pattern, measured), so the rule is written here.
 */
export function nestedRepetition(source: string): boolean {
  const root = tokens(source);
  if (!root) return false;
  const walk = (token: Tokens, depth: number): boolean => {
    if (token.type === tokenTypes.REPETITION) {
      const varying = token.min !== token.max;
      if (varying && depth >= 1) return true;
      return walk(token.value, depth + (varying ? 1 : 0));
    }
    return children(token).some((stack) => stack.some((child) => walk(child, depth)));
  };
  return walk(root, 0);
}

/**
 * Characters a literal may hold: printable ASCII but quotes and backslashes, which a log
 * reader may look for in raw journal JSON, where those are escaped.
 */
export const LITERAL_CHAR = /^[\x20-\x21\x23-\x5b\x5d-\x7e]$/;

/** The longest run of literal characters in a sequence of tokens (lowercased), or "". */
function longestLiteral(stack: readonly Token[]): string {
  let best = "";
  let run = "";
  for (const token of stack) {
    const char = token.type === tokenTypes.CHAR ? String.fromCharCode(token.value) : "";
    if (char !== "" && LITERAL_CHAR.test(char)) {
      run += char.toLowerCase();
      if (run.length > best.length) best = run;
    } else if (token.type === tokenTypes.POSITION)
      continue; // ^ $ \b take no characters
    else run = "";
  }
  return best;
}

/**
 * Lowercase text at least one of which every match contains: the longest
 * literal run of the pattern, or of each top-level alternative. Undefined
 * when some alternative has no literal of `minLength` characters.
 */
export function requiredLiterals(source: string, minLength = 3): string[] | undefined {
  const root = tokens(source);
  if (!root) return undefined;
  const branches = root.options ?? (root.stack ? [root.stack] : []);
  const literals = branches.map(longestLiteral);
  if (literals.length === 0 || literals.some((l) => l.length < minLength)) return undefined;
  return [...new Set(literals)];
}

/** The names of its named groups, in order. */
export function namedGroups(source: string): string[] {
  const root = tokens(source);
  const names: string[] = [];
  const walk = (token: Tokens) => {
    if (token.type === tokenTypes.GROUP && token.name) names.push(token.name);
    if (token.type === tokenTypes.REPETITION) walk(token.value);
    for (const stack of children(token)) stack.forEach(walk);
  };
  if (root) walk(root);
  return [...new Set(names)];
}
