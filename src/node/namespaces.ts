/**
 * Is the agent looking at the host's network namespace? Counters and sysctls under
 * /proc/net and /proc/sys/net describe the namespace of whoever reads them: read from a
 * pod's own namespace they describe the pod, and a check that judged them would call a
 * sick node healthy. Checks that read them report `unknown` unless this says "host".
 *
 * Two ways to tell, tried in order:
 * - the links /proc/self/ns/net and /proc/1/ns/net name the same namespace
 *   ("net:[4026531833]"); reading pid 1's link needs ptrace access, which a container
 *   with every capability dropped lacks (EACCES);
 * - /proc/self/net/dev and /proc/1/net/dev have the same inode: procfs gives each
 *   network namespace its own /proc/net entries, and statting them needs no capability.
 */
import type { Host } from "../types.js";
import { errorText } from "../text/format.js";

export type NetworkNamespace =
  | { host: true; via: "ns-link" | "proc-net-inode" }
  | { host: false; detail: string }
  /** Could not tell: both ways failed. */
  | { host: undefined; detail: string };

export async function networkNamespace(host: Host, selfPid: number | "self" = "self"): Promise<NetworkNamespace> {
  const self = `/proc/${selfPid}`;
  let linkProblem: string;
  try {
    const [mine, init] = await Promise.all([host.readLink(`${self}/ns/net`), host.readLink("/proc/1/ns/net")]);
    if (mine === init) return { host: true, via: "ns-link" };
    return { host: false, detail: `the agent's network namespace ${mine} is not the host's ${init} (pid 1)` };
  } catch (error) {
    linkProblem = errorText(error);
  }
  try {
    const [mine, init] = await Promise.all([host.stat(`${self}/net/dev`), host.stat("/proc/1/net/dev")]);
    if (mine.dev === init.dev && mine.ino === init.ino) return { host: true, via: "proc-net-inode" };
    return { host: false, detail: `the agent's /proc/net is not pid 1's (inode ${mine.ino}, pid 1's ${init.ino}): it runs in a network namespace of its own` };
  } catch (error) {
    return { host: undefined, detail: `could not compare the agent's network namespace with pid 1's (${linkProblem}; ${errorText(error)})` };
  }
}

/** The remedy when a check finds itself outside the host's network namespace. */
export const HOST_NETWORK_REMEDY =
  "Run node-doctor with hostNetwork: true (the chart's default) so it reads the node's own network counters; the pod's namespace tells nothing about the node.";
