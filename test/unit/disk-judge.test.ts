/**
 * judgeDisk and kubelet's eviction-threshold parsers as tables: filesystems
 * (statfs numbers, mount flags) and thresholds in, findings out. The real
 * tmpfs and loop-device tests are in test/checks/disk.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { judgeDisk, type ObservedFilesystem } from "../../src/checks/disk/judge.js";
import { parseQuantity, parseThreshold, thresholdsFromFlag, type EffectiveThresholds } from "../../src/node/kubelet/eviction.js";
import type { Finding } from "../../src/types.js";

const GIB = 1024 ** 3;
const KUBELET_DEFAULTS: EffectiveThresholds = {
  hard: {
    "nodefs.available": { kind: "percent", value: 10 },
    "nodefs.inodesFree": { kind: "percent", value: 5 },
    "imagefs.available": { kind: "percent", value: 15 },
    "imagefs.inodesFree": { kind: "percent", value: 5 },
  },
  soft: {},
  source: "kubelet's defaults",
  problems: [],
};

/** A 100 GiB filesystem with `freePercent` of its bytes and `inodesFreePercent` of a million inodes free. */
function fs(
  roles: Array<ObservedFilesystem["paths"][number]["role"]>,
  freePercent: number,
  options: Partial<ObservedFilesystem> & { inodesFreePercent?: number } = {},
): ObservedFilesystem {
  const mountPoint = options.mountPoint ?? (roles.includes("nodefs") ? "/var/lib/kubelet" : "/");
  const { inodesFreePercent = 50, ...rest } = options;
  return {
    paths: roles.map((role) => ({ role, path: role === "imagefs" ? "/var/lib/containerd" : mountPoint })),
    mountPoint,
    readOnly: false,
    stats: { availableBytes: (100 * GIB * freePercent) / 100, sizeBytes: 100 * GIB, filesFree: 10_000 * inodesFreePercent, files: 1_000_000, type: 0xef53 },
    ...rest,
  };
}

const summary = (findings: Finding[]) => findings.map((f) => [f.reason, f.severity]);

interface Row {
  name: string;
  filesystems: ObservedFilesystem[];
  thresholds?: EffectiveThresholds;
  findings: Array<[string, string]>;
  message?: RegExp;
  remedy?: RegExp;
}

const rows: Row[] = [
  { name: "half free: ok", filesystems: [fs(["nodefs"], 50)], findings: [["FilesystemOk", "ok"]], message: /50\.0 GiB available of 100\.0 GiB \(50\.0%\)/ },
  {
    name: "2% free on kubelet's filesystem: critical, kubelet evicts",
    filesystems: [fs(["nodefs"], 2)],
    findings: [["NodeFsAvailableLow", "critical"]],
    message: /below kubelet's hard eviction threshold nodefs\.available<10% \(kubelet's defaults\): kubelet reports DiskPressure/,
    remedy: /du -xh --max-depth=3 \/var\/lib\/kubelet/,
  },
  {
    name: "12% free: within the 5% headroom, a warning",
    filesystems: [fs(["nodefs"], 12)],
    findings: [["NodeFsAvailableLow", "warning"]],
    message: /within 5% of/,
  },
  {
    name: "inodes at 1%: critical",
    filesystems: [fs(["nodefs"], 50, { inodesFreePercent: 1 })],
    findings: [["NodeFsInodesLow", "critical"]],
    remedy: /find \/var\/lib\/kubelet -xdev/,
  },
  {
    name: "one disk for kubelet and images at 14% free: the imagefs threshold (15%) makes it critical",
    filesystems: [fs(["nodefs", "imagefs"], 14)],
    findings: [["ImageFsAvailableLow", "critical"]],
    remedy: /crictl rmi --prune/,
  },
  {
    name: "/ low, not kubelet's: the nodefs numbers, Filesystem* reasons",
    filesystems: [fs(["root"], 3)],
    findings: [["FilesystemAvailableLow", "critical"]],
    message: /below the hard threshold nodefs\.available<10% \(kubelet's defaults\)\.$/,
  },
  {
    name: "kubelet's filesystem read-only: critical",
    filesystems: [fs(["nodefs"], 50, { readOnly: true, source: "/dev/vda1", fsType: "ext4" })],
    findings: [["FilesystemReadOnly", "critical"]],
    message: /mounted read-only \(\/dev\/vda1, ext4\); kubelet and the container runtime cannot write to it/,
    remedy: /dmesg/,
  },
  {
    name: "another filesystem read-only: a warning",
    filesystems: [fs(["extra"], 50, { mountPoint: "/data", readOnly: true })],
    findings: [["FilesystemReadOnly", "warning"]],
  },
  {
    name: "statfs failed: unknown, never ok",
    filesystems: [{ paths: [{ role: "nodefs", path: "/var/lib/kubelet" }], mountPoint: "/var/lib/kubelet", readOnly: false, error: "EIO" }],
    findings: [["FilesystemUnreadable", "unknown"]],
    message: /Could not measure filesystem \/var\/lib\/kubelet: EIO\./,
  },
  {
    name: "no inode accounting (btrfs reports 0 inodes): only bytes are judged",
    filesystems: [fs(["nodefs"], 50, { stats: { availableBytes: 50 * GIB, sizeBytes: 100 * GIB, filesFree: 0, files: 0, type: 0 } })],
    findings: [["FilesystemOk", "ok"]],
  },
  {
    name: "kubelet's thresholds unreadable: a warning beside the verdict on its defaults",
    filesystems: [fs(["nodefs"], 50)],
    thresholds: { ...KUBELET_DEFAULTS, problems: ['evictionHard.nodefs.available: "ten" is not a percentage'] },
    findings: [
      ["EvictionThresholdsUnreadable", "warning"],
      ["FilesystemOk", "ok"],
    ],
  },
  {
    name: "a soft threshold passed: a warning",
    filesystems: [fs(["nodefs"], 18)],
    thresholds: { ...KUBELET_DEFAULTS, soft: { "nodefs.available": { kind: "percent", value: 20 } } },
    findings: [["NodeFsAvailableLow", "warning"]],
    message: /soft eviction threshold nodefs\.available<20%/,
  },
];

describe("judgeDisk", () => {
  for (const row of rows) {
    it(row.name, () => {
      const findings = judgeDisk(row.filesystems, row.thresholds ?? KUBELET_DEFAULTS, { warningHeadroomPercent: 5 });
      assert.deepEqual(summary(findings), row.findings);
      assert.ok(findings.every((f) => f.condition === "DiskSpaceLow"));
      const first = findings.find((f) => f.reason === row.findings.at(-1)?.[0]);
      if (row.message) assert.match(first?.message ?? "", row.message);
      if (row.remedy) assert.match(first?.remedy ?? "", row.remedy);
    });
  }
});

describe("kubelet's eviction thresholds", () => {
  const thresholds: Array<[string, ReturnType<typeof parseThreshold>]> = [
    ["10%", { kind: "percent", value: 10 }],
    [" 7.5% ", { kind: "percent", value: 7.5 }],
    ["1Gi", { kind: "absolute", value: GIB }],
    ["500M", { kind: "absolute", value: 500e6 }],
  ];
  for (const [text, expected] of thresholds) {
    it(`parseThreshold(${JSON.stringify(text)})`, () => assert.deepEqual(parseThreshold(text), expected));
  }
  for (const bad of ["%", "101%", "-1%", "ten", "-1Gi"]) {
    it(`parseThreshold(${JSON.stringify(bad)}) is a problem naming the value`, () => {
      const parsed = parseThreshold(bad);
      assert.equal(typeof parsed, "string");
      assert.ok((parsed as string).includes(JSON.stringify(bad)), String(parsed));
    });
  }

  it("parseQuantity reads Kubernetes quantities", () => {
    const rows: Array<[string, number | undefined]> = [
      ["1.5Gi", 1.5 * GIB],
      ["100Ki", 102_400],
      ["2k", 2000],
      ["1e3", 1000],
      ["250m", 0.25],
      ["12", 12],
      ["Gi", undefined],
      ["1 Gi", undefined],
    ];
    for (const [text, value] of rows) assert.equal(parseQuantity(text), value, text);
  });

  it("--eviction-hard: signal<threshold pairs, each bad entry named", () => {
    const parsed = thresholdsFromFlag("nodefs.available<15%, imagefs.available<2Gi,bogus,memory.available<100Mi", "--eviction-hard");
    assert.deepEqual(parsed.thresholds, { "nodefs.available": { kind: "percent", value: 15 }, "imagefs.available": { kind: "absolute", value: 2 * GIB } });
    assert.deepEqual(parsed.problems, ['--eviction-hard: "bogus" is not of the form signal<threshold']);
  });
});
