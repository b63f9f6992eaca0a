/**
 * `npm run bench -- certificates`: what a certificates run costs on a kubeadm
 * node with many rotated certificates — the first run (parse everything),
 * steady rescans (stat only), and a bad current certificate (siblings
 * scanned for the remedy). Certificates are minted with openssl first.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certificateSettings, createCertificatesCheck } from "../src/checks/certificates/index.js";
import { systemClock } from "../src/time/clock.js";
import { KubeletLocator } from "../src/node/kubelet/locator.js";
import { RootedHost } from "../src/node/host.js";
import { CertificateMint } from "../test/support/certs.js";
import { checkContext } from "../test/support/check-context.js";

const DAY = 86_400_000;

async function timeRuns(run: () => Promise<unknown>, count: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await run();
  return Number(process.hrtime.bigint() - start) / 1e6 / count;
}

export async function run(): Promise<void> {
  const mint = new CertificateMint();
  const root = await mkdtemp(join(tmpdir(), "node-doctor-bench-certs-"));
  try {
    const now = Date.now();
    const ca = mint.ca({ subject: "/CN=kubernetes", notBefore: new Date(now - 400 * DAY), notAfter: new Date(now + 3000 * DAY) });
    const pki = join(root, "var/lib/kubelet/pki");
    await mkdir(pki, { recursive: true });
    await mkdir(join(root, "etc/kubernetes/pki"), { recursive: true });
    await writeFile(join(root, "etc/kubernetes/pki/ca.crt"), ca.certPem);
    await writeFile(
      join(root, "etc/kubernetes/kubelet.conf"),
      "users:\n- name: a\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n" +
        "clusters:\n- name: c\n  cluster:\n    certificate-authority: /etc/kubernetes/pki/ca.crt\n",
    );
    const rotated = 24; // two years of monthly rotations
    for (let i = 0; i < rotated; i++) {
      const leaf = mint.leaf(ca, {
        subject: "/O=system:nodes/CN=system:node:bench",
        notBefore: new Date(now - (i + 1) * 30 * DAY),
        notAfter: new Date(now + (365 - (i + 1) * 30) * DAY),
      });
      await writeFile(join(pki, `kubelet-client-r${String(i).padStart(2, "0")}.pem`), leaf.combinedPem);
    }
    const serving = mint.selfSigned({ subject: "/CN=bench@1", notBefore: new Date(now - DAY), notAfter: new Date(now + 364 * DAY) });
    await writeFile(join(pki, "kubelet.crt"), serving.certPem);
    await writeFile(join(pki, "kubelet.key"), serving.keyPem);

    const check = createCertificatesCheck(certificateSettings.parse({}, "checks.certificates"), {
      kubelet: new KubeletLocator(new RootedHost(root), systemClock, 0),
    });
    const runOnce = () => check.run(checkContext(root));

    await symlink("/var/lib/kubelet/pki/kubelet-client-r00.pem", join(pki, "kubelet-client-current.pem"));
    const first = await timeRuns(runOnce, 1);
    const steady = await timeRuns(runOnce, 200);
    process.stdout.write(
      `healthy node, ${rotated} rotated certificates: first run ${first.toFixed(2)} ms (${check.cache.parses} parses), steady rescan ${steady.toFixed(3)} ms/run (${check.cache.parses} parses after 200 more runs)\n`,
    );

    const future = mint.leaf(ca, {
      subject: "/O=system:nodes/CN=system:node:bench",
      notBefore: new Date(now + 5 * 3_600_000),
      notAfter: new Date(now + 365 * DAY),
    });
    await writeFile(join(pki, "kubelet-client-future.pem"), future.combinedPem);
    await rm(join(pki, "kubelet-client-current.pem"));
    await symlink("/var/lib/kubelet/pki/kubelet-client-future.pem", join(pki, "kubelet-client-current.pem"));
    const firstBad = await timeRuns(runOnce, 1);
    const steadyBad = await timeRuns(runOnce, 200);
    process.stdout.write(
      `the certificate from the future (current ${rotated} siblings judged for the remedy): first run ${firstBad.toFixed(2)} ms, steady ${steadyBad.toFixed(3)} ms/run (${check.cache.parses} parses in all)\n`,
    );
  } finally {
    mint.cleanup();
    await rm(root, { recursive: true, force: true });
  }
}
