/**
 * Renders charts/node-doctor as `helm template` would: values.yaml merged with
 * overrides (Helm's coalescing: maps merge, null deletes a key), validated
 * against values.schema.json, then rendered by test/support/helm-render (Go
 * text/template + sprig, the engine Helm uses), built once per process from
 * Debian's packages with no network.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Ajv, type ErrorObject } from "ajv";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { requireTool } from "./tools.js";

const run = promisify(execFile);

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const CHART = join(REPO, "charts/node-doctor");
const HARNESS = join(REPO, "test/support/helm-render");
const GOCODE = "/usr/share/gocode";
/** Build outputs kept between runs live with the checkout's other caches, not in the machine's temp dir. */
const CACHE = join(REPO, "node_modules/.cache/node-doctor");

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

let binary: Promise<string> | undefined;

/** Builds the harness in GOPATH mode from Debian's Go packages; cached by source hash. */
export function helmRenderBinary(): Promise<string> {
  binary ??= (async () => {
    requireTool("go");
    for (const lib of ["github.com/Masterminds/sprig", "github.com/Masterminds/semver", "gopkg.in/yaml.v3", "gopkg.in/yaml.v2"]) {
      if (!existsSync(join(GOCODE, "src", lib))) {
        throw new Error(
          `${GOCODE}/src/${lib} is missing: run scripts/test-setup.sh (installs golang-github-masterminds-sprig-dev and golang-gopkg-yaml.v2-dev/v3-dev)`,
        );
      }
    }
    const source = await readFile(join(HARNESS, "main.go"));
    const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
    const dir = join(CACHE, `helm-render-${hash}`);
    const out = join(dir, "helm-render");
    if (existsSync(out)) return out;
    // Debian ships sprig and semver without their /v3 import path: link them in a GOPATH of our own.
    const gopath = await mkdtemp(join(tmpdir(), "node-doctor-gopath-"));
    for (const lib of ["sprig", "semver"]) {
      await mkdir(join(gopath, "src/github.com/Masterminds", lib), { recursive: true });
      await symlink(join(GOCODE, "src/github.com/Masterminds", lib), join(gopath, "src/github.com/Masterminds", lib, "v3"));
    }
    await mkdir(dir, { recursive: true });
    const partial = `${out}.${process.pid}`;
    try {
      await run("go", ["build", "-o", partial, "."], {
        cwd: HARNESS,
        // GOCACHE of our own: go needs one, and a CI environment may have no HOME to put it under.
        env: {
          ...process.env,
          GOPATH: `${gopath}:${GOCODE}`,
          GO111MODULE: "off",
          GOFLAGS: "",
          GOPROXY: "off",
          CGO_ENABLED: "0",
          GOCACHE: process.env["GOCACHE"] ?? join(CACHE, "go-build"),
        },
        timeout: 300_000,
      });
      await run("mv", [partial, out]);
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      throw new Error(`building test/support/helm-render failed: ${stderr.trim()}`);
    } finally {
      await rm(gopath, { recursive: true, force: true });
    }
    return out;
  })();
  return binary;
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
