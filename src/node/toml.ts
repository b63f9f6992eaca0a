/**
 * A small TOML reader for the runtime configuration files node-doctor looks
 * into (containerd's config.toml). It reads tables, dotted and quoted keys,
 * strings, numbers, booleans, arrays and inline tables: enough to find a key
 * such as `SystemdCgroup` reliably, without a dependency in the agent bundle.
 * Dates are kept as their text. Array-of-tables entries are kept as a list.
 *
 * Problems are data: a TomlError names the line and what was wrong, so the
 * check can quote it with the file's path.
 */

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

export class TomlError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
    this.name = "TomlError";
  }
}

const BARE_KEY = /[A-Za-z0-9_-]/;

function isTable(value: TomlValue | undefined): value is TomlTable {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

class Reader {
  private pos = 0;
  private line = 1;

  constructor(private readonly text: string) {}

  fail(problem: string, line = this.line): never {
    throw new TomlError(line, problem);
  }

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(offset = 0): string {
    return this.text[this.pos + offset] ?? "";
  }

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  next(): string {
    const c = this.text[this.pos++] ?? "";
    if (c === "\n") this.line++;
    return c;
  }

  /** Spaces and tabs only. */
  skipBlanks(): void {
    while (this.peek() === " " || this.peek() === "\t") this.pos++;
  }

  /** Blanks, newlines and comments (inside arrays, between statements). */
  skipWhitespaceAndComments(): void {
    for (;;) {
      const c = this.peek();
      if (c === " " || c === "\t" || c === "\r" || c === "\n") this.next();
      else if (c === "#") this.skipComment();
      else return;
    }
  }

  skipComment(): void {
    while (!this.done && this.peek() !== "\n") this.pos++;
  }

  /** After a statement: only blanks and a comment may remain on the line. */
  endOfLine(): void {
    this.skipBlanks();
    if (this.peek() === "#") this.skipComment();
    if (this.peek() === "\r") this.pos++;
    if (this.done) return;
    if (this.peek() !== "\n") this.fail(`unexpected ${JSON.stringify(this.peek())} after a value; expected the end of the line`);
    this.next();
  }

  key(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.skipBlanks();
      const c = this.peek();
      if (c === '"') parts.push(this.basicString());
      else if (c === "'") parts.push(this.literalString());
      else {
        const start = this.pos;
        while (BARE_KEY.test(this.peek())) this.pos++;
        if (this.pos === start) this.fail(c === "" || c === "\n" ? "expected a key" : `unexpected ${JSON.stringify(c)} in a key`);
        parts.push(this.text.slice(start, this.pos));
      }
      this.skipBlanks();
      if (this.peek() !== ".") return parts;
      this.pos++;
    }
  }

  basicString(): string {
    if (this.startsWith('"""')) return this.multilineBasic();
    this.pos++;
    let out = "";
    for (;;) {
      if (this.peek() === "" || this.peek() === "\n") this.fail("unterminated string");
      const c = this.next();
      if (c === '"') return out;
      out += c === "\\" ? this.escape() : c;
    }
  }

  private multilineBasic(): string {
    this.pos += 3;
    if (this.peek() === "\n") this.next();
    else if (this.startsWith("\r\n")) (this.pos++, this.next());
    let out = "";
    for (;;) {
      if (this.done) this.fail('unterminated """ string');
      if (this.startsWith('"""')) {
        this.pos += 3;
        return out;
      }
      const c = this.next();
      if (c === "\\") {
        // A backslash at the end of a line trims the newline and leading whitespace.
        if (/^[ \t]*\r?\n/.test(this.text.slice(this.pos, this.pos + 64))) {
          while (/[ \t\r\n]/.test(this.peek())) this.next();
        } else out += this.escape();
      } else out += c;
    }
  }

  private escape(): string {
    const c = this.next();
    const simple: Record<string, string> = { b: "\b", t: "\t", n: "\n", f: "\f", r: "\r", '"': '"', "\\": "\\" };
    const known = simple[c];
    if (known !== undefined) return known;
    if (c === "u" || c === "U") {
      const length = c === "u" ? 4 : 8;
      const hex = this.text.slice(this.pos, this.pos + length);
      if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== length) this.fail(`invalid \\${c} escape`);
      this.pos += length;
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) this.fail(`invalid \\${c} escape`);
      return String.fromCodePoint(code);
    }
    return this.fail(`invalid escape \\${c}`);
  }

  literalString(): string {
    if (this.startsWith("'''")) {
      this.pos += 3;
      if (this.peek() === "\n") this.next();
      const end = this.text.indexOf("'''", this.pos);
      if (end < 0) this.fail("unterminated ''' string");
      const value = this.text.slice(this.pos, end);
      while (this.pos < end) this.next();
      this.pos += 3;
      return value;
    }
    this.pos++;
    const start = this.pos;
    for (;;) {
      if (this.peek() === "" || this.peek() === "\n") this.fail("unterminated string");
      const c = this.next();
      if (c === "'") return this.text.slice(start, this.pos - 1);
    }
  }

  value(): TomlValue {
    this.skipBlanks();
    const c = this.peek();
    if (c === '"') return this.basicString();
    if (c === "'") return this.literalString();
    if (c === "[") return this.array();
    if (c === "{") return this.inlineTable();
    const start = this.pos;
    while (!this.done && !/[\s,\]}#]/.test(this.peek())) this.pos++;
    // Dates and times may hold one space between date and time.
    if (/^\d{4}-\d{2}-\d{2}$/.test(this.text.slice(start, this.pos)) && /^ \d{2}:/.test(this.text.slice(this.pos, this.pos + 4))) {
      this.pos++;
      while (!this.done && !/[\s,\]}#]/.test(this.peek())) this.pos++;
    }
    const word = this.text.slice(start, this.pos);
    if (word === "") this.fail(c === "" || c === "\n" || c === "\r" ? "missing value after '='" : `unexpected ${JSON.stringify(c)} where a value was expected`);
    if (word === "true") return true;
    if (word === "false") return false;
    if (/^[+-]?(inf|nan)$/.test(word)) return word.includes("nan") ? NaN : word.startsWith("-") ? -Infinity : Infinity;
    // Leading zeros are not TOML, but containerd's parser takes them; never call invalid what containerd loads.
    if (/^[+-]?\d(_?\d)*$/.test(word)) return Number(word.replace(/_/g, ""));
    if (/^0x[0-9A-Fa-f](_?[0-9A-Fa-f])*$/.test(word)) return parseInt(word.slice(2).replace(/_/g, ""), 16);
    if (/^0o[0-7](_?[0-7])*$/.test(word)) return parseInt(word.slice(2).replace(/_/g, ""), 8);
    if (/^0b[01](_?[01])*$/.test(word)) return parseInt(word.slice(2).replace(/_/g, ""), 2);
    if (/^[+-]?\d(_?\d)*(\.\d(_?\d)*)?([eE][+-]?\d(_?\d)*)?$/.test(word)) return Number(word.replace(/_/g, ""));
    if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(word) || /^\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(word)) return word;
    return this.fail(`invalid value ${JSON.stringify(word.length > 40 ? word.slice(0, 40) + "…" : word)} (strings need quotes)`);
  }

  private array(): TomlValue[] {
    const opened = this.line;
    this.pos++;
    const items: TomlValue[] = [];
    for (;;) {
      this.skipWhitespaceAndComments();
      if (this.peek() === "]") {
        this.pos++;
        return items;
      }
      if (this.done) this.fail("unterminated array (missing ']')", opened);
      items.push(this.value());
      this.skipWhitespaceAndComments();
      if (this.peek() === ",") this.pos++;
      else if (this.done) this.fail("unterminated array (missing ']')", opened);
      else if (this.peek() !== "]") this.fail(`expected ',' or ']' in an array, got ${JSON.stringify(this.peek())}`);
    }
  }

  private inlineTable(): TomlTable {
    this.pos++;
    const table: TomlTable = {};
    this.skipBlanks();
    if (this.peek() === "}") {
      this.pos++;
      return table;
    }
    for (;;) {
      const key = this.key();
      if (this.peek() !== "=") this.fail(`expected '=' after the key ${JSON.stringify(key.join("."))}`);
      this.pos++;
      assign(this, table, key, this.value());
      this.skipBlanks();
      const c = this.peek();
      if (c === "" || c === "\n" || c === "\r") this.fail("unterminated inline table (missing '}' on its line)");
      this.pos++;
      if (c === "}") return table;
      if (c !== ",") this.fail(`expected ',' or '}' in an inline table, got ${JSON.stringify(c)}`);
    }
  }
}

/** Sets `path` in `table`, creating intermediate tables; a key defined twice is an error, as in TOML. */
function assign(reader: Reader, table: TomlTable, path: readonly string[], value: TomlValue): void {
  let current = table;
  for (const part of path.slice(0, -1)) {
    const existing = current[part];
    if (existing === undefined) current = current[part] = {};
    else if (isTable(existing)) current = existing;
    else reader.fail(`key ${JSON.stringify(path.join("."))} redefines ${JSON.stringify(part)}, which is not a table`);
  }
  const last = path.at(-1) as string;
  if (last in current) reader.fail(`key ${JSON.stringify(path.join("."))} is defined twice`);
  current[last] = value;
}

function openTable(reader: Reader, root: TomlTable, path: readonly string[], arrayOfTables: boolean): TomlTable {
  let current = root;
  for (const [index, part] of path.entries()) {
    const last = index === path.length - 1;
    let existing = current[part];
    if (last && arrayOfTables) {
      if (existing === undefined) existing = current[part] = [];
      if (!Array.isArray(existing)) reader.fail(`[[${path.join(".")}]] redefines a key that is not an array of tables`);
      const entry: TomlTable = {};
      existing.push(entry);
      return entry;
    }
    if (existing === undefined) existing = current[part] = {};
    if (Array.isArray(existing)) {
      const lastEntry = existing.at(-1);
      if (!isTable(lastEntry)) reader.fail(`table [${path.join(".")}] redefines ${JSON.stringify(part)}, which is not a table`);
      current = lastEntry;
    } else if (isTable(existing)) current = existing;
    else reader.fail(`table [${path.join(".")}] redefines ${JSON.stringify(part)}, which is not a table`);
  }
  return current;
}

/** Parses a TOML document; throws TomlError naming the line of the first problem. */
export function parseToml(text: string): TomlTable {
  if (text.includes("\0")) throw new TomlError(1, "binary data, not TOML");
  const reader = new Reader(text.replace(/^\uFEFF/, ""));
  const root: TomlTable = {};
  let current = root;
  for (;;) {
    reader.skipWhitespaceAndComments();
    if (reader.done) return root;
    if (reader.peek() === "[") {
      const arrayOfTables = reader.peek(1) === "[";
      reader.next();
      if (arrayOfTables) reader.next();
      const path = reader.key();
      const close = arrayOfTables ? "]]" : "]";
      if (!reader.startsWith(close)) reader.fail(`expected '${close}' to close the table header [${arrayOfTables ? "[" : ""}${path.join(".")}`);
      reader.next();
      if (arrayOfTables) reader.next();
      current = openTable(reader, root, path, arrayOfTables);
      reader.endOfLine();
      continue;
    }
    const key = reader.key();
    if (reader.peek() !== "=") reader.fail(`expected '=' after the key ${JSON.stringify(key.join("."))}`);
    reader.next();
    assign(reader, current, key, reader.value());
    reader.endOfLine();
  }
}

/** The value at a path of keys, or undefined when any part is missing or not a table. */
export function tomlGet(table: TomlTable, path: readonly string[]): TomlValue | undefined {
  let current: TomlValue | undefined = table;
  for (const part of path) {
    if (!isTable(current)) return undefined;
    current = current[part];
  }
  return current;
}
