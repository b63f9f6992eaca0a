/**
 * The chart README's values table, generated from values.yaml's "# --"
 * comments (helm-docs' convention): a documented key is one row with its
 * default; an undocumented mapping is described key by key; an undocumented
 * leaf is an error.
 */
import { isMap, isScalar, parseDocument, stringify, type Pair, type YAMLMap } from "yaml";

export const TABLE_START =
  "<!-- values:start (generated from values.yaml; regenerate with UPDATE_GOLDEN=1 npx node --import tsx --test test/charts/values.test.ts) -->";
export const TABLE_END = "<!-- values:end -->";

export interface ValueRow {
  key: string;
  default: string;
  description: string;
}

function descriptionOf(comment: string | null | undefined): string | undefined {
  if (!comment) return undefined;
  const lines = comment.split("\n").map((l) => l.trim());
  const start = lines.findIndex((l) => l.startsWith("-- "));
  if (start === -1) return undefined;
  const out = [lines[start]?.slice(3) ?? ""];
  for (const line of lines.slice(start + 1)) {
    if (line === "") break;
    out.push(line);
  }
  return out.join(" ");
}

function formatDefault(value: unknown): string {
  if (typeof value === "string") return value === "" ? '`""`' : `\`${value}\``;
  if (typeof value === "number" || typeof value === "boolean") return `\`${String(value)}\``;
  const flow = stringify(value, { collectionStyle: "flow", lineWidth: 0 }).trim();
  return `\`${flow.replaceAll("|", "\\|")}\``;
}

export function valueRows(valuesYaml: string): { rows: ValueRow[]; undocumented: string[] } {
  const doc = parseDocument(valuesYaml);
  const rows: ValueRow[] = [];
  const undocumented: string[] = [];
  const walk = (map: YAMLMap, prefix: string) => {
    map.items.forEach((pair: Pair, index) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const path = prefix + (/^[A-Za-z0-9_]+$/.test(key) ? key : `"${key}"`);
      // The first key's comment is held by its mapping.
      const comment = (isScalar(pair.key) ? pair.key.commentBefore : undefined) ?? (index === 0 ? map.commentBefore : undefined);
      const description = descriptionOf(comment);
      if (description !== undefined) {
        const value: unknown = isMap(pair.value) || !isScalar(pair.value) ? (pair.value as { toJSON(): unknown } | null)?.toJSON() : pair.value.value;
        rows.push({ key: path, default: formatDefault(value), description });
      } else if (isMap(pair.value) && pair.value.items.length > 0) {
        walk(pair.value, `${path}.`);
      } else {
        undocumented.push(path);
      }
    });
  };
  if (isMap(doc.contents)) walk(doc.contents, "");
  return { rows, undocumented };
}

export function valuesTable(valuesYaml: string): string {
  const { rows } = valueRows(valuesYaml);
  const escape = (text: string) => text.replaceAll("|", "\\|");
  return ["| Key | Default | Description |", "|---|---|---|", ...rows.map((r) => `| \`${r.key}\` | ${r.default} | ${escape(r.description)} |`)].join("\n");
}

/** The README with its generated section replaced. */
export function withValuesTable(readme: string, valuesYaml: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start === -1 || end === -1 || end < start) throw new Error(`README.md lacks the ${TABLE_START} … ${TABLE_END} markers`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${valuesTable(valuesYaml)}\n${readme.slice(end)}`;
}
