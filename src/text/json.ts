/**
 * JSON from parties node-doctor does not control: the API server's answers
 * (a proxy or a compromised server can send anything within the size limit),
 * CNI configuration files. V8's JSON.parse itself copes with any depth, but
 * a 4 MB document of nested arrays is two million objects (about 150 MiB,
 * measured) and everything that walks the value afterwards recurses: the
 * depth is checked in one pass over the text first, which allocates nothing.
 */

/** Objects and arrays inside each other: a Node, managedFields included, nests under 20. */
export const MAX_JSON_DEPTH = 64;

export class JsonDepthError extends Error {
  constructor(
    readonly maxDepth: number,
    readonly offset: number,
  ) {
    super(`nested more than ${maxDepth} levels deep (at byte ${offset}): node-doctor refuses such documents before parsing them`);
    this.name = "JsonDepthError";
  }
}

/** Throws JsonDepthError at the first bracket that opens a level beyond maxDepth; strings are skipped. */
export function checkJsonDepth(text: string, maxDepth = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) throw new JsonDepthError(maxDepth, i);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

/** JSON.parse after the depth check; both throw a SyntaxError-like Error with a one-line message. */
export function parseUntrustedJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  checkJsonDepth(text, maxDepth);
  return JSON.parse(text);
}
