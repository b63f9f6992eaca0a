/**
 * The API calls the fleet commands make, as an interface so the commands read
 * as what they do. The implementation (cluster-fleet-api.ts) talks to the API
 * server through the agent's own transport.
 */
import type { Event as CoreEvent, Node } from "kubernetes-types/core/v1.js";
import type { Finding } from "../types.js";

export interface NodePage {
  items: Node[];
  /** The continue token for the next page; absent on the last page. */
  continue?: string;
}

export interface FleetApi {
  listNodes(options: { labelSelector?: string; limit: number; continue?: string }, signal: AbortSignal): Promise<NodePage>;
  getNode(name: string, signal: AbortSignal): Promise<Node | null>;
  /** node-doctor's Events on the Node, oldest first. */
  listNodeEvents(name: string, signal: AbortSignal): Promise<CoreEvent[]>;
  /**
   * The live findings of the agent on that node through the API server's pod
   * proxy; undefined with a reason when no agent pod is reachable.
   */
  agentFindings(name: string, signal: AbortSignal): Promise<{ findings: Finding[] } | { unavailable: string }>;
  /** Removes node-doctor's condition types from the Node's status, leaving every other condition; returns those removed. */
  removeConditions(name: string, signal: AbortSignal): Promise<string[]>;
}
