/**
 * Runs the exhaustion check twice as the agent would, inside whatever
 * namespaces it was started in (test/checks/exhaustion-live.test.ts starts it
 * with `ip netns exec … [unshare --pid --fork --mount-proc]`), on the host root
 * "/". Between the two looks it can fill the namespace's conntrack table with
 * `--fill N` TCP connections on its loopback, held open until it exits.
 * Prints one JSON line per look: {"look": n, "findings": [...]}.
 *
 *   node --import tsx test/support/exhaustion-runner.ts [--fill N] [--settle-ms MS] [--settings JSON]
 */
import { createServer, connect, type Socket } from "node:net";
import { createExhaustionCheck, exhaustionSettings } from "../../src/checks/exhaustion/index.js";
import { RootedHost } from "../../src/node/host.js";
import { KubeletLocator } from "../../src/node/kubelet/locator.js";
import { systemClock } from "../../src/time/clock.js";
import { checkContext } from "./check-context.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const fill = Number(arg("--fill") ?? 0);
const settleMs = Number(arg("--settle-ms") ?? 1500);
const settings = exhaustionSettings.parse(JSON.parse(arg("--settings") ?? "{}"), "checks.exhaustion");
const check = createExhaustionCheck(settings, { kubelet: new KubeletLocator(new RootedHost("/"), systemClock) });
const look = async (n: number) => process.stdout.write(`${JSON.stringify({ look: n, findings: await check.run(checkContext("/")) })}\n`);

await look(1);
const sockets: Socket[] = [];
const server = createServer((s) => s.on("error", () => undefined));
if (fill > 0) {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  // Each connection is one conntrack entry; past nf_conntrack_max the SYNs are dropped and retried (a drop each).
  for (let i = 0; i < fill; i++) {
    const s = connect({ host: "127.0.0.1", port });
    s.on("error", () => undefined);
    sockets.push(s);
  }
}
await new Promise((resolve) => setTimeout(resolve, settleMs));
await look(2);
for (const s of sockets) s.destroy();
server.close();
process.exit(0);
