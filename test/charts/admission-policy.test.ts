/**
 * The ValidatingAdmissionPolicy's CEL, evaluated on the requests the API
 * server would send it: the agent may write the status of, and Events about,
 * its own node only; a token without the node name is refused with a message
 * that says how to proceed; other users are not matched at all.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { evaluate } from "@marcbachmann/cel-js";
import { findObject, renderChart } from "../support/helm.js";

interface Policy {
  spec: {
    matchConditions: Array<{ name: string; expression: string }>;
    variables: Array<{ name: string; expression: string }>;
    validations: Array<{ expression: string; messageExpression: string }>;
  };
}

const AGENT = "system:serviceaccount:node-doctor:node-doctor";
const NODE_NAME = "authentication.kubernetes.io/node-name";

function request(username: string, nodeName: string | undefined, resource: "nodes" | "events", target: string) {
  return {
    request: { userInfo: { username, extra: nodeName ? { [NODE_NAME]: [nodeName] } : {} }, resource: { group: "", version: "v1", resource } },
    object: resource === "nodes" ? { metadata: { name: target } } : { metadata: { name: `${target}.1` }, involvedObject: { kind: "Node", name: target } },
  };
}

describe("admission policy: own node only", () => {
  let policy: Policy;
  before(async () => {
    const rendered = await renderChart({}, { apiVersions: ["admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"] });
    policy = findObject(rendered.objects, "ValidatingAdmissionPolicy") as unknown as Policy;
  });

  function admit(context: ReturnType<typeof request>): { matched: boolean; allowed: boolean; message: string } {
    const matched = policy.spec.matchConditions.every((c) => evaluate(c.expression, context) === true);
    const variables: Record<string, unknown> = {};
    for (const v of policy.spec.variables) variables[v.name] = evaluate(v.expression, { ...context, variables });
    const failed = policy.spec.validations.find((v) => evaluate(v.expression, { ...context, variables }) !== true);
    return { matched, allowed: !failed, message: failed ? String(evaluate(failed.messageExpression, { ...context, variables })) : "" };
  }

  it("lets the agent patch its own node's status", () => {
    assert.deepEqual(admit(request(AGENT, "node-a", "nodes", "node-a")), { matched: true, allowed: true, message: "" });
  });

  it("refuses the agent another node's status, naming both", () => {
    assert.deepEqual(admit(request(AGENT, "node-a", "nodes", "node-b")), { matched: true, allowed: false, message: "node-doctor on node-a may not write about node node-b" });
  });

  it("lets the agent post Events about its own node, not another's", () => {
    assert.equal(admit(request(AGENT, "node-a", "events", "node-a")).allowed, true);
    assert.equal(admit(request(AGENT, "node-a", "events", "node-b")).allowed, false);
  });

  it("refuses a token that names no node, saying what is needed", () => {
    const result = admit(request(AGENT, undefined, "nodes", "node-a"));
    assert.equal(result.allowed, false);
    assert.match(result.message, /needs Kubernetes 1\.30\+; or set admissionPolicy\.enabled=false/);
  });

  it("does not apply to anyone else (kubelet, the uninstall hook, administrators)", () => {
    for (const user of ["system:node:node-a", "system:serviceaccount:node-doctor:node-doctor-cleanup", "kubernetes-admin"]) {
      assert.equal(admit(request(user, undefined, "nodes", "node-b")).matched, false, user);
    }
  });
});
