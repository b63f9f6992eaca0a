/**
 * API writes per node per hour: the real engine (damping included) and the
 * real NodeConditions and Events sinks writing over HTTPS to the fake API
 * server, on a simulated clock, for a few simulated hours per scenario.
 * node-problem-detector writes its conditions every 5 minutes (12/hour)
 * whatever happens; the target here is <= 6/hour steady (one per heartbeat).
 *
 *   npm run bench -- api-writes [--hours=N] [--heartbeat-seconds=600]
 */
import type { Check, ConditionType, Finding } from "../src/types.js";
import { CONDITION_TYPES } from "../src/types.js";
import { FakeApiServer } from "../test/support/fake-apiserver.js";
import { conditionsHarness, finding, scriptedCheck } from "../test/support/conditions-harness.js";

function option(args: string[], name: string, fallback: number): number {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.slice(name.length + 3)) : fallback;
}

const HOUR = 3_600_000;

/** One scripted check per condition type, the way the agent has them (kubelet every 10 s, others every 30 s). */
function checks(sick: (condition: ConditionType, run: number) => Finding[]): Check[] {
  return CONDITION_TYPES.map((condition) =>
    scriptedCheck(condition.toLowerCase(), condition, (run) => sick(condition, run), condition === "KubeletUnhealthy" ? 10_000 : 30_000),
  );
}

const SCENARIOS: Record<string, (condition: ConditionType, run: number) => Finding[]> = {
  "steady (healthy node)": () => [],
  "steady, message changes every run": (condition, run) =>
    condition === "DiskSpaceLow"
      ? [finding(condition, "warning", "NodeFsAvailableLow", `/var/lib/kubelet has ${(15 - run * 0.001).toFixed(3)}% available`)]
      : [],
  "one check flapping every run": (condition, run) =>
    condition === "KubeletUnhealthy" && run % 2 === 1 ? [finding(condition, "critical", "KubeletHealthzFailing", "healthz refused")] : [],
  "one check flapping every 5 minutes (slower than damping)": (condition, run) =>
    condition === "ClockSkewed" && Math.floor((run * 30_000) / 300_000) % 2 === 1 ? [finding(condition, "critical", "ClockOffsetLarge", "offset 45 s")] : [],
};

export async function run(args: string[]): Promise<void> {
  const hours = option(args, "hours", 6);
  const heartbeatMs = option(args, "heartbeat-seconds", 600) * 1000;
  const api = await FakeApiServer.start();
  const rows: string[] = [];
  try {
    let index = 0;
    for (const [name, script] of Object.entries(SCENARIOS)) {
      const node = `bench-${index++}`;
      api.seedNode(node);
      const h = await conditionsHarness(api, checks(script), { nodeName: node, conditions: { heartbeatMs } });
      const started = performance.now();
      void h.scheduler.start();
      // Warm-up hour excluded: start-up writes are not steady state.
      await h.advance(HOUR);
      const patchesBefore = h.patches();
      const eventsBefore = api.requestsTo({ resource: "events" }).filter((r) => r.name === undefined || r.verb === "patch").length;
      const requestsBefore = api.requests.filter((r) => r.path.includes(`/${node}`) || r.resource === "events").length;
      await h.advance(hours * HOUR);
      const patches = h.patches() - patchesBefore;
      const eventWrites = api.requestsTo({ resource: "events" }).filter((r) => r.name === undefined || r.verb === "patch").length - eventsBefore;
      const requests = api.requests.filter((r) => r.path.includes(`/${node}`) || r.resource === "events").length - requestsBefore;
      await h.stop();
      rows.push(
        `| ${name} | ${(patches / hours).toFixed(1)} | ${(eventWrites / hours).toFixed(1)} | ${(requests / hours).toFixed(1)} | ${Math.round(performance.now() - started)} ms |`,
      );
    }
  } finally {
    await api.close();
  }
  process.stdout.write(
    `API writes per node per hour, heartbeat ${heartbeatMs / 1000} s, ${hours} simulated hours after a 1 h warm-up (node-problem-detector: 12 condition writes/hour)\n\n`,
  );
  process.stdout.write("| scenario | nodes/status PATCH per hour | Event writes per hour | all API requests per hour | real time |\n|---|---|---|---|---|\n");
  process.stdout.write(`${rows.join("\n")}\n`);
}
