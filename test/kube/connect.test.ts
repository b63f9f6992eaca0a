/** Local mode and credential resolution at start-up. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connectToCluster } from "../../src/kube/connect.js";
import { RecordingLog } from "../support/conditions-harness.js";
import { runCli } from "../support/cli.js";

describe("connectToCluster", () => {
  it("runs locally with one info line when there is no kubeconfig and no in-cluster service account", async () => {
    const log = new RecordingLog();
    const connection = await connectToCluster({ nodeName: "laptop", log, env: {}, serviceAccountDir: "/nonexistent" });
    assert.equal(connection.reader, undefined);
    assert.deepEqual(connection.sinks, []);
    assert.deepEqual(
      log.lines.map((l) => l.level),
      ["info"],
    );
    assert.match(log.lines[0]?.message ?? "", /running locally; NodeConditions and Events are off/);
    await connection.close();
  });

  it("treats a pod without a mounted token as local (automountServiceAccountToken: false)", async () => {
    const log = new RecordingLog();
    const connection = await connectToCluster({
      nodeName: "n",
      log,
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
      serviceAccountDir: "/nonexistent",
    });
    assert.equal(connection.reader, undefined);
  });

  it("fails with one line naming the file when --kubeconfig is wrong", async () => {
    await assert.rejects(
      connectToCluster({ kubeconfig: "/nonexistent/kubeconfig", nodeName: "n", log: new RecordingLog() }),
      /^KubeConfigError: kubeconfig \/nonexistent\/kubeconfig: does not exist$/m,
    );
  });

  it("node-doctor check and run exit 3 with one line when --kubeconfig is unusable", async () => {
    for (const command of ["check", "run"]) {
      const result = await runCli([
        command,
        "--kubeconfig",
        "/nonexistent/kubeconfig",
        "--host-root",
        new URL("../fixtures/disk-healthy/", import.meta.url).pathname,
        ...(command === "run" ? ["--listen", "127.0.0.1:0"] : []),
      ]);
      assert.equal(result.code, 3, result.stderr);
      assert.equal(result.stderr, "node-doctor: kubeconfig /nonexistent/kubeconfig: does not exist\n");
    }
  });
});
