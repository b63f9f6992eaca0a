/**
 * kubelet's certificates: the client certificate it authenticates to the API
 * server with, its serving certificate and the cluster CA in its kubeconfig,
 * judged against a trusted time (the clock check's corrected time when
 * fresh). The certificate from the future (docs/incidents.md): a rotated client certificate whose NotBefore lies in
 * the future makes the API server answer Unauthorized; the remedy names the
 * older rotated certificate that still works.
 *
 * Gather (locate, stat, parse only what changed) then judge (pure).
 */
import * as path from "node:path";
import { checkSettings } from "../../config/config.js";
import { number, withDefault, type Infer } from "../../config/schema.js";
import type { KubeletLocator } from "../../node/kubelet/locator.js";
import type { Check, CheckContext, Finding, Host } from "../../types.js";
import { PemFileCache, type LoadedPemFile } from "./files.js";
import { CERTIFICATE_REASONS, judgeCertificates, rotatingPrefix, wantsCandidates, type CertificateJudgeInput, type ObservedCertificate } from "./judge.js";
import { locateCertificates, type CertificateSources, type PemSource } from "./sources.js";
import { defineCheck } from "../define.js";
import { REASONS } from "./reasons.js";
import { certificateMetrics } from "./metrics.js";

export { CERTIFICATE_REASONS };

export const certificateSettings = checkSettings(
  { intervalSeconds: 60, timeoutSeconds: 10 },
  {
    /** Warn when a certificate expires within this many days (critical when nothing rotates it). */
    warningDays: withDefault(number({ min: 1, max: 3650 }), 30),
    /** Critical when a certificate expires within this many days. */
    criticalDays: withDefault(number({ min: 0, max: 3650 }), 7),
  },
);

export type CertificateSettings = Infer<typeof certificateSettings>;

export interface CertificateCheckDeps {
  kubelet: KubeletLocator;
}

/** Rotated certificates kubelet keeps beside the current one; more than this is not read. */
const MAX_CANDIDATES = 256;

async function loadSource(ctx: CheckContext, cache: PemFileCache, source: PemSource): Promise<LoadedPemFile> {
  return source.kind === "file" ? cache.load(ctx.host, source.path, ctx.signal) : cache.loadInline(source.label, source.bytes);
}

/** kubelet only links kubelet-*-current.pem within its cert dir; a link elsewhere was made by hand. */
async function linkOutside(host: Host, file: LoadedPemFile, certDir: string): Promise<ObservedCertificate["linkOutside"]> {
  if (!rotatingPrefix(file.path) || !file.resolved || file.resolved === file.path) return undefined;
  let dir = certDir;
  try {
    dir = await host.resolve(certDir);
  } catch {
    // an unresolvable cert dir: compare with the path as configured
  }
  if (path.posix.dirname(file.resolved) === dir || path.posix.dirname(file.resolved) === certDir) return undefined;
  return { target: file.resolved, certDir };
}

async function observe(ctx: CheckContext, cache: PemFileCache, sources: CertificateSources): Promise<CertificateJudgeInput> {
  const input: CertificateJudgeInput = {
    bootstrapKubeconfigPath: sources.bootstrapKubeconfigPath,
    kubeletRunning: sources.kubeletRunning,
    ...(sources.kubeconfigPath ? { kubeconfigPath: sources.kubeconfigPath } : {}),
    ...(sources.kubeconfigProblem ? { kubeconfigProblem: sources.kubeconfigProblem } : {}),
  };
  const nodeName = ctx.cluster?.nodeName ?? sources.hostnameOverride;
  if (nodeName) input.nodeName = nodeName;

  if (sources.client) {
    const file = await loadSource(ctx, cache, sources.client.certificate);
    const outside = await linkOutside(ctx.host, file, sources.certDir);
    input.client = {
      role: "client",
      file,
      origin: sources.client.origin,
      rotation: sources.rotateClient,
      checkIdentity: true,
      ...(sources.client.key ? { key: await loadSource(ctx, cache, sources.client.key) } : {}),
      ...(outside ? { linkOutside: outside } : {}),
    };
  }
  if (sources.serving) {
    const file = await loadSource(ctx, cache, sources.serving.certificate);
    const outside = await linkOutside(ctx.host, file, sources.certDir);
    input.serving = {
      role: "serving",
      file,
      origin: sources.serving.origin,
      rotation: sources.rotateServing,
      selfSigned: sources.serving.selfSigned,
      // Only certificates kubelet got from the cluster carry the node's identity.
      checkIdentity: sources.rotateServing,
      ...(sources.serving.key ? { key: await loadSource(ctx, cache, sources.serving.key) } : {}),
      ...(outside ? { linkOutside: outside } : {}),
    };
  }
  if (sources.clientCa) input.clientCa = await cache.load(ctx.host, sources.clientCa, ctx.signal);
  if (sources.ca) {
    input.ca = { role: "ca", file: await loadSource(ctx, cache, sources.ca.source), origin: sources.ca.origin, rotation: false, checkIdentity: false };
  }
  return input;
}

/** Loads the rotated siblings (kubelet-client-<time>.pem) of a bad current certificate. */
async function loadCandidates(ctx: CheckContext, cache: PemFileCache, current: LoadedPemFile): Promise<LoadedPemFile[]> {
  const prefix = rotatingPrefix(current.path);
  if (!prefix) return [];
  const dir = path.posix.dirname(current.path);
  let names: string[];
  try {
    names = await ctx.host.list(dir);
  } catch {
    return [];
  }
  const files: LoadedPemFile[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(".pem") || name === `${prefix}current.pem`) continue;
    const nodePath = path.posix.join(dir, name);
    if (nodePath === current.resolved) continue; // the bad one itself
    if (files.length >= MAX_CANDIDATES) break;
    files.push(await cache.load(ctx.host, nodePath, ctx.signal));
  }
  return files;
}

export function createCertificatesCheck(settings: CertificateSettings, deps: CertificateCheckDeps): Check & { readonly cache: PemFileCache } {
  const cache = new PemFileCache();
  const thresholds = { warningDays: settings.warningDays, criticalDays: Math.min(settings.criticalDays, settings.warningDays) };
  return {
    name: "certificates",
    conditions: ["KubeletCertificateInvalid"],
    intervalMs: settings.intervalSeconds * 1000,
    timeoutMs: settings.timeoutSeconds * 1000,
    cache,
    async run(ctx): Promise<Finding[]> {
      const setup = await deps.kubelet.locate(ctx.signal);
      const sources = await locateCertificates(ctx.host, setup, ctx.signal, deps.kubelet);
      if (!sources.client && !sources.serving && !sources.ca && !sources.kubeconfigPath && !sources.kubeletRunning) {
        // No kubelet and none of its files: the kubelet check says so; there is nothing to judge here.
        ctx.log.debug({ certDir: sources.certDir }, "no kubelet certificates under the host root");
        return [];
      }
      cache.begin();
      const input = await observe(ctx, cache, sources);
      if (setup.configPath) input.kubeletConfigPath = setup.configPath;
      input.restartKubelet = setup.distribution.restartKubelet.replace(/^systemctl daemon-reload && /, "");
      const time = ctx.trustedNow();
      let findings = judgeCertificates(input, time, thresholds);
      const roles = wantsCandidates(findings, input);
      if (roles.length > 0) {
        input.candidates = {};
        for (const role of roles) {
          const current = input[role]?.file;
          if (current) input.candidates[role] = await loadCandidates(ctx, cache, current);
        }
        findings = judgeCertificates(input, time, thresholds);
      }
      cache.sweep();
      return findings;
    },
  };
}

/** The check as the registry lists it (src/checks/index.ts). */
export const certificatesCheck = defineCheck({ settings: certificateSettings, create: createCertificatesCheck, reasons: REASONS, metrics: certificateMetrics });
