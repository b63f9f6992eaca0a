/**
 * `npm run bench -- clock`: how exact the SNTP client is against a real
 * chronyd on loopback serving the true time (offset error and the
 * uncertainty it reports, single queries and best-of-3), and what a clock
 * check run costs (a query round, and a run that reuses the last answer).
 */
import { clockSettings, createClockCheck, type ClockSettings } from "../src/checks/clock/index.js";
import { systemClock } from "../src/time/clock.js";
import { querySntp, querySntpBest } from "../src/wire/sntp.js";
import { checkContext } from "../test/support/check-context.js";
import { startChronyd } from "../test/support/chronyd.js";
import { fixtureRoot } from "../test/support/fixture-root.js";

function quantiles(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return `p50 ${q(0.5).toFixed(3)}  p90 ${q(0.9).toFixed(3)}  p99 ${q(0.99).toFixed(3)}  max ${(sorted.at(-1) ?? Number.NaN).toFixed(3)}`;
}

export async function run(): Promise<void> {
  const chronyd = await startChronyd();
  const root = await fixtureRoot();
  try {
    const target = { host: "127.0.0.1", port: chronyd.port };
    for (const [label, query] of [
      ["single query", () => querySntp(target, { clock: systemClock, timeoutMs: 1000 })],
      ["best of 3", () => querySntpBest(target, { clock: systemClock, timeoutMs: 1000, samples: 3 })],
    ] as const) {
      const errors: number[] = [];
      const uncertainties: number[] = [];
      let outside = 0;
      for (let i = 0; i < 100; i++) {
        const r = await query();
        errors.push(Math.abs(r.offsetMs));
        uncertainties.push(r.uncertaintyMs);
        if (Math.abs(r.offsetMs) > r.uncertaintyMs) outside++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      process.stdout.write(`${label}, 100 queries: |offset| ms ${quantiles(errors)}\n`);
      process.stdout.write(`${label}, 100 queries: uncertainty ms ${quantiles(uncertainties)}; |offset| beyond it ${outside} times\n`);
    }

    const settings = { ...clockSettings.parse({ ntpServers: [`127.0.0.1:${chronyd.port}`] }, "checks.clock") } as ClockSettings;
    const check = createClockCheck(settings);
    const fresh: number[] = [];
    const cached: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await createClockCheck(settings).run(checkContext(root.root));
      fresh.push(performance.now() - t0);
      const t1 = performance.now();
      await check.run(checkContext(root.root));
      cached.push(performance.now() - t1);
    }
    process.stdout.write(`check run with an NTP round (3 samples), ms: ${quantiles(fresh)}\n`);
    process.stdout.write(`check run reusing the last answer (within ntpPollSeconds), ms: ${quantiles(cached.slice(1))}\n`);
  } finally {
    await chronyd.stop();
    await root.cleanup();
  }
}
