/**
 * The status page at `/`, in a real browser (Debian's Chromium driven by
 * playwright-core), served by the bundled agent running on fixture nodes:
 * what an operator on `kubectl port-forward` sees. A healthy node shows no
 * problem; the certificate from the future (docs/incidents.md) shows its
 * finding first, with the remedy naming the older valid certificate. The
 * page loads nothing but itself. STATUS_PAGE_SCREENSHOT=FILE keeps the
 * second page's screenshot for a person to look at.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { checksOff } from "../../src/checks/index.js";
import { CertificateMint } from "../support/certs.js";
import { startAgentProcess } from "../support/cli.js";
import { fixtureRoot, type FixtureRoot } from "../support/fixture-root.js";
import { kubeletKubeconfig } from "../support/kubelet-pki.js";
import { requireTool } from "../support/tools.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PKI = "/var/lib/kubelet/pki";
const CURRENT = `${PKI}/kubelet-client-current.pem`;
const NODE = "/O=system:nodes/CN=system:node:node30";

/** Chromium as it runs here: no sandbox (root), no GPU, no network of its own (playwright gives each launch a fresh profile). */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let browser: Browser;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  const executablePath = requireTool("chromium");
  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 30_000 });
});
after(async () => {
  await browser?.close();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A config enabling only `checks`, so the page shows what the fixture is about. */
async function onlyChecks(dir: string, checks: readonly string[]): Promise<string> {
  const file = join(dir, "node-doctor.yaml");
  await writeFile(file, JSON.stringify({ checks: checksOff(checks) }));
  return file;
}

/** Starts the bundled agent on `root`; returns the status page's URL. */
async function agentOn(root: string, config: string): Promise<string> {
  const agent = await startAgentProcess(["--host-root", root, "--listen", "127.0.0.1:0", "--node-name", "node30", "--config", config]);
  cleanups.push(async () => {
    if (agent.child.exitCode === null) {
      agent.child.kill("SIGTERM");
      await once(agent.child, "exit");
    }
  });
  return `${agent.address}/`;
}

/** Opens the page, recording every request it makes and a screenshot. */
async function open(url: string): Promise<{ page: Page; requests: string[]; screenshot: Buffer }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  cleanups.push(() => page.close());
  const requests: string[] = [];
  page.on("request", (request) => requests.push(request.url()));
  const response = await page.goto(url, { timeout: 15_000 });
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()["content-security-policy"] ?? "", /default-src 'none'/);
  const screenshot = await page.screenshot({ fullPage: true });
  return { page, requests, screenshot };
}

function assertPng(image: Buffer): void {
  assert.deepEqual([...image.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
  const width = image.readUInt32BE(16);
  const height = image.readUInt32BE(20);
  assert.ok(width >= 1000 && height >= 300, `screenshot ${width}×${height}`);
}

describe("status page in Chromium", () => {
  let healthy: FixtureRoot;
  before(async () => {
    healthy = await fixtureRoot("disk-healthy", { tmpfsRoot: true });
    cleanups.push(() => healthy.cleanup());
    await healthy.mountTmpfs("/var/lib/kubelet", { size: "4m", inodes: 1000 });
    await healthy.writeMountinfo();
  });

  it("a healthy node: no problem shown, every finding ok, nothing loaded but the page", async () => {
    const config = await onlyChecks(await mkdtemp(join(tmpdir(), "node-doctor-page-")), ["disk"]);
    cleanups.push(() => rm(dirname(config), { recursive: true, force: true }));
    const { page, requests, screenshot } = await open(await agentOn(healthy.root, config));
    assert.match(await page.title(), /node30 · ok/);
    assert.match((await page.locator("#summary").textContent()) ?? "", /No problem found: \d+ findings?, all ok\./);
    assert.equal(await page.locator("#no-problems").isVisible(), true);
    assert.equal(await page.locator("li.finding").count(), 0);
    assert.match((await page.locator("#conditions").textContent()) ?? "", /DiskSpaceLow.*ok False/);
    assert.equal(await page.locator("script").count(), 0, "no script");
    assert.deepEqual(requests, [page.url()], "the page requests nothing else (styles inline, no assets)");
    assertPng(screenshot);
  });

  it("the certificate from the future: its finding first, with the remedy naming the older valid certificate", async () => {
    const mint = new CertificateMint();
    cleanups.push(async () => mint.cleanup());
    const now = Date.now();
    const ca = mint.ca({ subject: "/CN=kubernetes", notBefore: new Date(now - 400 * DAY), notAfter: new Date(now + 3000 * DAY) });
    const older = mint.leaf(ca, { subject: NODE, notBefore: new Date(now - 23 * DAY), notAfter: new Date(now + 342 * DAY) });
    const future = mint.leaf(ca, { subject: NODE, notBefore: new Date(now + 5 * HOUR), notAfter: new Date(now + 365 * DAY) });
    const serving = mint.selfSigned({ subject: "/CN=node30@1732000000", notBefore: new Date(now - 30 * DAY), notAfter: new Date(now + 335 * DAY) });
    const root = await mkdtemp(join(tmpdir(), "node-doctor-page-future-"));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const files: Record<string, string> = {
      "/etc/kubernetes/kubelet.conf": kubeletKubeconfig({ "client-certificate": CURRENT, "client-key": CURRENT }),
      "/etc/kubernetes/pki/ca.crt": ca.certPem,
      "/var/lib/kubelet/config.yaml": "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nrotateCertificates: true\n",
      [`${PKI}/kubelet.crt`]: serving.certPem,
      [`${PKI}/kubelet.key`]: serving.keyPem,
      [`${PKI}/kubelet-client-2026-11-01-08-00-00.pem`]: older.combinedPem,
      [`${PKI}/kubelet-client-2026-11-24-11-00-00.pem`]: future.combinedPem,
    };
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content, { mode: 0o600 });
    }
    await symlink(`${PKI}/kubelet-client-2026-11-24-11-00-00.pem`, join(root, CURRENT));
    const config = await onlyChecks(root, ["certificates"]);

    const { page, requests, screenshot } = await open(await agentOn(root, config));
    assert.match(await page.title(), /node30 · critical/);
    const first = page.locator("li.finding").first();
    assert.equal(await first.getAttribute("data-reason"), "ClientCertificateNotYetValid");
    assert.equal(await first.getAttribute("data-severity"), "critical");
    assert.match((await first.locator(".message").textContent()) ?? "", /kubelet-client-current\.pem .*is not valid until/);
    assert.equal(
      (await first.locator(".remedy pre").textContent())?.includes(
        `ln -sf ${PKI}/kubelet-client-2026-11-01-08-00-00.pem ${CURRENT} && systemctl restart kubelet`,
      ),
      true,
      (await first.locator(".remedy pre").textContent()) ?? "",
    );
    assert.match((await page.locator("#conditions").textContent()) ?? "", /KubeletCertificateInvalid.*critical True/);
    assert.deepEqual(requests, [page.url()]);
    assertPng(screenshot);
    if (process.env["STATUS_PAGE_SCREENSHOT"]) await writeFile(process.env["STATUS_PAGE_SCREENSHOT"], screenshot);
  });
});
