/** The shipped Prometheus rules file, and a copy whose `for:` durations suit a test that cannot wait minutes. */
export const SHIPPED_RULES = new URL("../../deploy/prometheus/node-doctor.rules.yaml", import.meta.url).pathname;

/**
 * `for: 5m` becomes `for: 1s`: the end-to-end test proves expressions, labels,
 * annotations and delivery; promtool's rule unit tests prove the durations.
 */
export function withShortFor(rules: string): string {
  return rules.replace(/^(\s+for:\s+)\S+\s*$/gm, (_, prefix: string) => `${prefix}1s`);
}
