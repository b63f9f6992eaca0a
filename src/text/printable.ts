/**
 * Text from the node (log lines, runtime and healthz answers) ends up in
 * terminals, NodeConditions and Events. Control characters in it could move
 * a terminal's cursor or change its title: line breaks become spaces, every
 * other control character (tab aside) becomes U+FFFD.
 */
// Written with \u escapes: C0 controls except tab and line breaks, DEL, and the C1 range.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

export function printable(text: string): string {
  return text.replace(/\r\n|\r|\n/g, " ").replace(CONTROL, "\uFFFD");
}
