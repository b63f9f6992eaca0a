/**
 * FleetApi on a real API server, through the agent's own client (src/kube):
 * the kubeconfig is resolved the way kubectl resolves it (kubeconfig-merge.ts;
 * exec and auth-provider users through @kubernetes/client-node), and answers
 * are checked at the edge.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pod } from "kubernetes-types/core/v1.js";
import { stringify as toYaml } from "yaml";
import { KubeClient, isEvent } from "../kube/client.js";
import { KubeConfigError, kubeconfigCredentials } from "../kube/credentials.js";
import { ApiError, Transport, type Credentials } from "../kube/transport.js";
import { removeOurConditions } from "../sinks/conditions.js";
import { CONDITION_TYPE_FORMAT, type Finding, isRecord, SEVERITIES } from "../types.js";
import type { FleetApi } from "./fleet-api.js";
import { kubeconfigPaths, mergeKubeconfigs } from "./kubeconfig-merge.js";
import { errorText } from "../text/format.js";
import { DEFAULT_LISTEN } from "../config/config.js";

/** The label the chart and the plain manifests put on agent pods. */
export const AGENT_POD_SELECTOR = "app.kubernetes.io/name=node-doctor";
export const AGENT_PORT = Number(DEFAULT_LISTEN.slice(DEFAULT_LISTEN.lastIndexOf(":") + 1));

function isFinding(value: unknown): value is Finding {
  return (
    isRecord(value) &&
    typeof value["check"] === "string" &&
    typeof value["reason"] === "string" &&
    typeof value["message"] === "string" &&
    // Built-in or configured (checks.custom): every condition type an agent may report.
    typeof value["condition"] === "string" &&
    CONDITION_TYPE_FORMAT.test(value["condition"]) &&
    (SEVERITIES as readonly string[]).includes(String(value["severity"]))
  );
}

async function credentialsFor(options: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv }): Promise<Credentials> {
  const paths = kubeconfigPaths(options);
  const context = options.context ? { context: options.context } : {};
  const [only] = paths;
  if (paths.length === 1 && only) return kubeconfigCredentials(only, context);
  // Several files: merge as kubectl does, resolve the merged document, name the list in errors.
  const dir = await mkdtemp(join(tmpdir(), "kubectl-node-doctor-"));
  const merged = join(dir, "config");
  try {
    await writeFile(merged, toYaml(await mergeKubeconfigs(paths)), { mode: 0o600 });
    return await kubeconfigCredentials(merged, context);
  } catch (error) {
    if (error instanceof KubeConfigError) throw new KubeConfigError(error.where.replace(merged, `KUBECONFIG ${paths.join(":")}`), error.problem);
    throw error;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line for an API failure, the way kubectl words them. */
export function describeApiError(error: unknown, server: string): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return `the API server at ${server} rejected the credentials (401 Unauthorized)`;
    if (error.status === 403) return `forbidden (403): ${error.message}`;
    if (error.status === 0) return `cannot reach the API server at ${server}: ${error.message}`;
    return `${error.status} ${error.reason}: ${error.message}`;
  }
  return errorText(error);
}

export async function connectFleet(options: {
  kubeconfig?: string;
  context?: string;
  requestTimeoutMs: number;
  env?: NodeJS.ProcessEnv;
}): Promise<FleetApi & { server: string; close(): void }> {
  const credentials = await credentialsFor(options);
  const transport = new Transport(credentials, { timeoutMs: options.requestTimeoutMs });
  const client = new KubeClient(transport);
  const server = credentials.server;
  const wrap = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      throw new Error(describeApiError(error, server));
    }
  };

  return {
    server,
    close: () => client.close(),
    listNodes: (o, signal) =>
      wrap(async () => {
        const page = await client.listNodes(
          { limit: o.limit, ...(o.continue ? { continueToken: o.continue } : {}), ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}) },
          signal,
        );
        return { items: page.items, ...(page.continueToken ? { continue: page.continueToken } : {}) };
      }),
    getNode: (name, signal) => wrap(async () => (await client.getNode(name, signal)).node),
    listNodeEvents: (name, signal) =>
      wrap(async () => {
        const events = await client.listEvents(undefined, `involvedObject.kind=Node,involvedObject.name=${name}`, signal);
        return events
          .filter((e) => isEvent(e) && (e.source?.component === "node-doctor" || e.reportingComponent === "node-doctor"))
          .sort((a, b) => Date.parse(a.lastTimestamp ?? a.eventTime ?? "") - Date.parse(b.lastTimestamp ?? b.eventTime ?? ""));
      }),
    async agentFindings(name, signal) {
      try {
        const pods = await transport.request({
          verb: "list",
          resource: "pods",
          method: "GET",
          path: "/api/v1/pods",
          query: { labelSelector: AGENT_POD_SELECTOR, fieldSelector: `spec.nodeName=${name}` },
          signal,
        });
        const items = isRecord(pods.body) && Array.isArray(pods.body["items"]) ? (pods.body["items"] as Pod[]) : [];
        const pod = items.find((p) => p.status?.phase === "Running" && p.metadata?.name && p.metadata.namespace);
        if (!pod?.metadata?.name || !pod.metadata.namespace) return { unavailable: `no running node-doctor pod on ${name} (label ${AGENT_POD_SELECTOR})` };
        const live = await transport.request({
          verb: "get",
          resource: "pods/proxy",
          method: "GET",
          path: `/api/v1/namespaces/${encodeURIComponent(pod.metadata.namespace)}/pods/${encodeURIComponent(pod.metadata.name)}:${AGENT_PORT}/proxy/findings`,
          signal,
        });
        const findings = isRecord(live.body) ? live.body["findings"] : undefined;
        if (!Array.isArray(findings)) return { unavailable: `pod ${pod.metadata.namespace}/${pod.metadata.name} answered /findings without a findings list` };
        const valid = findings.filter(isFinding);
        if (valid.length !== findings.length)
          return { unavailable: `pod ${pod.metadata.namespace}/${pod.metadata.name} answered findings of an unexpected shape` };
        return { findings: valid };
      } catch (error) {
        return { unavailable: describeApiError(error, server) };
      }
    },
    removeConditions: (name, signal) => wrap(() => removeOurConditions(client, name, signal)),
  };
}
