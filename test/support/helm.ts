/**
 * Renders charts/node-doctor as `helm template` would: values.yaml merged with
 * overrides (Helm's coalescing: maps merge, null deletes a key), validated
 * against values.schema.json, then rendered by test/support/helm-render (Go
 * text/template + sprig, the engine Helm uses), built once per process from
 * Debian's packages with no network.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Ajv, type ErrorObject } from "ajv";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { buildGoHarness } from "./go-harness.js";

const run = promisify(execFile);

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const CHART = join(REPO, "charts/node-doctor");
const HARNESS = join(REPO, "test/support/helm-render");

export type Values = Record<string, unknown>;
/** A rendered Kubernetes object. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface Rendered {
  objects: K8sObject[];
  /** Objects by source template, for messages. */
  sources: Array<{ source: string; object: K8sObject }>;
  notes: string;
}

export class ValuesSchemaError extends Error {
  constructor(readonly errors: ErrorObject[]) {
    super(`values don't meet the specifications of the schema(s): ${errors.map(describeSchemaError).join("; ")}`);
  }
}

/** One line per schema error, naming the key: "/hostPaths: unknown key journl". */
export function describeSchemaError(error: ErrorObject): string {
  const at = error.instancePath || "/";
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "additionalProperties") return `${at}: unknown key ${String(params["additionalProperty"])}`;
  if (error.keyword === "enum") return `${at}: must be one of ${JSON.stringify(params["allowedValues"])}`;
  return `${at}: ${error.message ?? error.keyword}`;
}

/** Builds the harness in GOPATH mode from Debian's Go packages; cached by source hash. */
export function helmRenderBinary(): Promise<string> {
  return buildGoHarness({
    name: "helm-render",
    libraries: {
      "github.com/Masterminds/sprig": "golang-github-masterminds-sprig-dev",
      "github.com/Masterminds/semver": "golang-github-masterminds-sprig-dev",
      "gopkg.in/yaml.v3": "golang-gopkg-yaml.v3-dev",
      "gopkg.in/yaml.v2": "golang-gopkg-yaml.v2-dev",
    },
    // Debian ships sprig and semver without their /v3 import path.
    aliases: { "github.com/Masterminds/sprig/v3": "github.com/Masterminds/sprig", "github.com/Masterminds/semver/v3": "github.com/Masterminds/semver" },
    copies: { "helm-render": HARNESS },
    main: "helm-render",
  });
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Helm's coalescing of user values over the chart's: maps merge, anything else replaces, null deletes. */
export function mergeValues(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete out[key];
    else if (isMap(value) && isMap(out[key])) out[key] = mergeValues(out[key] as Values, value);
    else out[key] = value;
  }
  return out;
}

export async function defaultValues(): Promise<Values> {
  return readValuesFile(join(CHART, "values.yaml"));
}

/** A values file as Helm reads it (sigs.k8s.io/yaml: YAML 1.1, so `on` and `yes` are booleans). */
export async function readValuesFile(path: string): Promise<Values> {
  const values: unknown = parseYaml(await readFile(path, "utf8"), { version: "1.1" });
  if (values === null || values === undefined) return {};
  if (!isMap(values)) throw new Error(`${path} is not a mapping`);
  return values;
}

let validator: Promise<(values: unknown) => ErrorObject[]> | undefined;

/** Validates values as helm does before rendering (JSON Schema draft-07). */
export function valuesValidator(): Promise<(values: unknown) => ErrorObject[]> {
  validator ??= (async () => {
    const schema: unknown = JSON.parse(await readFile(join(CHART, "values.schema.json"), "utf8"));
    if (!isMap(schema)) throw new Error("values.schema.json is not an object");
    const ajv = new Ajv({ allErrors: true, strict: true });
    const validate = ajv.compile(schema);
    return (values: unknown) => (validate(values) ? [] : [...(validate.errors ?? [])]);
  })();
  return validator;
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  kubeVersion?: string;
  /** Extra API versions the cluster serves, e.g. monitoring.coreos.com/v1. */
  apiVersions?: string[];
}

export async function renderChart(overrides: Values = {}, options: RenderOptions = {}): Promise<Rendered> {
  const values = mergeValues(await defaultValues(), overrides);
  const errors = (await valuesValidator())(values);
  if (errors.length > 0) throw new ValuesSchemaError(errors);
  return renderChartDir(CHART, values, options);
}

/** Renders any chart directory with final values (no schema, no merging): the harness alone. */
export async function renderChartDir(chartDir: string, values: Values, options: RenderOptions = {}): Promise<Rendered> {
  const bin = await helmRenderBinary();
  const dir = await mkdtemp(join(tmpdir(), "node-doctor-values-"));
  try {
    const valuesFile = join(dir, "values.json");
    await writeFile(valuesFile, JSON.stringify(values));
    const args = [
      "--chart",
      chartDir,
      "--values-json",
      valuesFile,
      "--release",
      options.release ?? "node-doctor",
      "--namespace",
      options.namespace ?? "node-doctor",
    ];
    if (options.kubeVersion) args.push("--kube-version", options.kubeVersion);
    if (options.apiVersions?.length) args.push("--api-versions", options.apiVersions.join(","));
    let stdout: string;
    try {
      ({ stdout } = await run(bin, args, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }));
    } catch (error) {
      throw new Error(((error as { stderr?: string }).stderr ?? String(error)).trim());
    }
    const output: unknown = JSON.parse(stdout);
    if (!isMap(output) || !Array.isArray(output["manifests"]) || typeof output["notes"] !== "string")
      throw new Error("helm-render printed an unexpected shape");
    const sources: Rendered["sources"] = [];
    for (const m of output["manifests"] as unknown[]) {
      if (!isMap(m) || typeof m["source"] !== "string" || typeof m["content"] !== "string") throw new Error("helm-render printed an unexpected manifest");
      sources.push(...parseManifests(m["content"], m["source"]).map((object) => ({ source: m["source"] as string, object })));
    }
    return { objects: sources.map((s) => s.object), sources, notes: output["notes"] };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Splits a multi-document YAML stream into objects; empty documents are skipped, as kubectl does. */
export function parseManifests(text: string, source: string): K8sObject[] {
  const objects: K8sObject[] = [];
  // YAML 1.1, as the API machinery's sigs.k8s.io/yaml reads manifests (`on`, `yes` are booleans there).
  for (const doc of parseAllDocuments(text, { version: "1.1" })) {
    if (doc.errors.length > 0) throw new Error(`${source}: invalid YAML: ${doc.errors[0]?.message ?? ""}\n${text}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (
      !isMap(value) ||
      typeof value["apiVersion"] !== "string" ||
      typeof value["kind"] !== "string" ||
      !isMap(value["metadata"]) ||
      typeof value["metadata"]["name"] !== "string"
    ) {
      throw new Error(`${source}: a document is not a Kubernetes object (apiVersion, kind, metadata.name)`);
    }
    objects.push(value as K8sObject);
  }
  return objects;
}

export function findObject(objects: readonly K8sObject[], kind: string, nameSuffix = ""): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
  if (found.length !== 1) throw new Error(`expected one ${kind}${nameSuffix ? ` named *${nameSuffix}` : ""}, found ${found.length}`);
  return found[0] as K8sObject;
}
