/**
 * A real Go binary stamped the way Kubernetes' build stamps kubelet:
 * `go build -ldflags "-X k8s.io/component-base/version.gitVersion=v1.7.16"`
 * (Debian's golang-go, GOPATH mode, offline). Go records the -ldflags in the
 * binary's build info, and the value in its data: what node-doctor reads
 * without running the binary.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "./tools.js";

export async function buildStampedKubelet(version: string): Promise<Buffer> {
  const go = requireTool("go");
  const dir = await mkdtemp(join(tmpdir(), "node-doctor-go-"));
  try {
    await mkdir(join(dir, "src/k8s.io/component-base/version"), { recursive: true });
    await mkdir(join(dir, "src/kubelet"), { recursive: true });
    await writeFile(
      join(dir, "src/k8s.io/component-base/version/version.go"),
      'package version\n\nvar gitVersion = "v0.0.0-master"\n\nfunc Get() string { return gitVersion }\n',
    );
    await writeFile(
      join(dir, "src/kubelet/main.go"),
      'package main\n\nimport (\n\t"fmt"\n\n\t"k8s.io/component-base/version"\n)\n\nfunc main() { fmt.Println("Kubernetes", version.Get()) }\n',
    );
    execFileSync(go, ["build", "-o", join(dir, "kubelet"), "-ldflags", `-X k8s.io/component-base/version.gitVersion=${version}`, "."], {
      cwd: join(dir, "src/kubelet"),
      env: { PATH: process.env["PATH"] ?? "", HOME: dir, GOPATH: dir, GO111MODULE: "off", GOCACHE: join(dir, "cache"), GOFLAGS: "" },
      stdio: "pipe",
      timeout: 120_000,
    });
    return await readFile(join(dir, "kubelet"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
