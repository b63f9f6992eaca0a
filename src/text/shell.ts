/**
 * Shell quoting for the commands remedies print. A remedy is meant to be pasted into a
 * root shell, and some of its values come from other parties (a condition type another
 * client wrote on the Node, a path from kubelet's flags, a line from a log): every such
 * value goes through here, so pasting a remedy never runs what a value smuggled in.
 */

/** Characters a POSIX shell never treats specially in a word. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One shell word that is exactly `value`: bare when safe, else in single quotes. A backtick is
 * spelled `"$(printf '\140')"` between the quotes: a remedy marks its commands with backticks, and
 * one inside a value would end the mark there, leaving a reader (or a copy of the span) with half a
 * command and the value's rest outside it.
 */
export function shellQuote(value: string | number): string {
  const text = String(value);
  if (text !== "" && SAFE_WORD.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`).replace(/`/g, `'"$(printf '\\140')"'`)}'`;
}

/**
 * A command with every interpolated value shell-quoted:
 * sh`kubectl label node ${node} ${key}-` → kubectl label node 'worker 1' 'x$(y)'-
 */
export function sh(strings: TemplateStringsArray, ...values: ReadonlyArray<string | number>): string {
  let out = strings[0] ?? "";
  values.forEach((value, index) => {
    out += shellQuote(value) + (strings[index + 1] ?? "");
  });
  return out;
}
