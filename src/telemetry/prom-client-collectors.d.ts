// prom-client's default collectors, one module each (prom-client/lib/metrics/*.js), so the agent
// registers those it keeps instead of all of collectDefaultMetrics(). prom-client types only its index.
declare module "prom-client/lib/metrics/*.js" {
  import type { Registry } from "prom-client";
  const register: (registry: Registry, config?: { labels?: Record<string, string> }) => void;
  export default register;
}
