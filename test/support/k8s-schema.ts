/**
 * Validates Kubernetes objects against the API's own schemas, two ways:
 * - kubernetes-models' validators (generated from the OpenAPI spec: types,
 *   required fields, enums, formats);
 * - the same models' TypeScript interfaces, through the TypeScript compiler's
 *   excess-property check: the OpenAPI schemas allow unknown fields (the API
 *   server drops them silently), so a misspelt `securityContxt` passes the
 *   first check and would be lost in a cluster. This one names it.
 */
import path from "node:path";
import ts from "typescript";
import type { K8sObject } from "./helm.js";
import { REPO } from "./helm.js";

const PROMETHEUS_OPERATOR = "monitoring.coreos.com/v1";

/** The kubernetes-models module of an apiVersion and kind. */
export function modelModule(apiVersion: string, kind: string): string {
  if (!/^[A-Za-z]+$/.test(kind)) throw new Error(`unexpected kind ${JSON.stringify(kind)}`);
  if (apiVersion === PROMETHEUS_OPERATOR) return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  if (!/^([a-z0-9.]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion)) throw new Error(`unexpected apiVersion ${JSON.stringify(apiVersion)}`);
  return `kubernetes-models/${apiVersion}/${kind}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

function isModelClass(value: unknown): value is ModelClass {
  return typeof value === "function" && typeof (value as { prototype?: { validate?: unknown } }).prototype?.validate === "function";
}

/** Problems found in each object, as "Kind/name: problem" lines; empty when all are valid. */
export async function validateObjects(objects: readonly K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const label = `${object.kind}/${object.metadata.name}`;
    let module: Record<string, unknown>;
    try {
      module = (await import(modelModule(object.apiVersion, object.kind))) as Record<string, unknown>;
    } catch (error) {
      problems.push(`${label}: no schema for ${object.apiVersion} ${object.kind} (${String(error).split("\n")[0]})`);
      continue;
    }
    const Model = module[object.kind];
    if (!isModelClass(Model)) {
      problems.push(`${label}: kubernetes-models has no class ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(`${label}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  problems.push(...strictFieldProblems(objects));
  return problems;
}

/** Excess-property and type errors from the TypeScript compiler, one line each. */
export function strictFieldProblems(objects: readonly K8sObject[]): string[] {
  const file = path.join(REPO, "test/.k8s-objects-under-check.ts");
  const lines: string[] = [];
  const owners: Array<{ line: number; label: string }> = [];
  objects.forEach((object, index) => {
    const module = modelModule(object.apiVersion, object.kind);
    lines.push(`import type { I${object.kind} as T${index} } from ${JSON.stringify(module)};`);
  });
  objects.forEach((object, index) => {
    owners.push({ line: lines.length, label: `${object.kind}/${object.metadata.name}` });
    lines.push(...`export const o${index}: T${index} = ${JSON.stringify(object, null, 1)};`.split("\n"));
  });
  const source = lines.join("\n");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? source : readFile(name));
  const program = ts.createProgram([file], options, host);
  const problems: string[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ");
    if (diagnostic.file?.fileName !== file || diagnostic.start === undefined) {
      problems.push(message);
      continue;
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const owner = [...owners].reverse().find((o) => o.line <= line);
    const text = source.split("\n")[line]?.trim() ?? "";
    problems.push(`${owner?.label ?? "?"}: ${message} (at ${text.slice(0, 80)})`);
  }
  return problems;
}
