/** Pure parts of the custom checks: templates, and each probe's judge on plain facts. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { judgeFile, judgeHttp, judgePlugin, judgeSysctl, judgeTcp, judgeUnit } from "../../src/checks/custom/judge.js";
import { probeSettings } from "../../src/checks/custom/probes.js";
import { parseTemplate, renderTemplate, templateFields } from "../../src/checks/custom/template.js";
import { mountPointOfUnit, sysctlPath } from "../../src/checks/custom/gather.js";
import { shellQuote } from "../../src/text/shell.js";
import type { FileStat } from "../../src/types.js";

function probe(value: Record<string, unknown> & { kind: string }) {
  return probeSettings.parse(value, "probe") as never;
}

describe("templates", () => {
  const rows: Array<[string, string[] | RegExp]> = [
    ["{{.path}} is gone", ["path"]],
    ["{{ .path }} has mode {{.mode}}; {{.path}} again", ["path", "mode"]],
    ["no fields at all", []],
    ["}} alone is text", []],
    ["{{.path", /unclosed "\{\{"/],
    ["{{path}}", /not a field: only \{\{\.field\}\} is allowed/],
    ['{{ printf "%s" .path }}', /not a field/],
    ["{{.path | upper}}", /not a field/],
    ["{{if .path}}x{{end}}", /not a field/],
    ["{{.a.b}}", /not a field/],
  ];
  for (const [source, expected] of rows) {
    it(`${JSON.stringify(source)} → ${Array.isArray(expected) ? `fields ${expected.join(", ") || "none"}` : expected}`, () => {
      const parsed = parseTemplate(source);
      if (Array.isArray(expected)) {
        assert.ok(!("problem" in parsed));
        assert.deepEqual(templateFields(parsed), expected);
      } else {
        assert.ok("problem" in parsed);
        assert.match(parsed.problem, expected);
      }
    });
  }

  it("renders values as they are into messages, and shell-quoted into remedies: a hostile value cannot add a command", () => {
    const t = parseTemplate("systemctl restart {{.unit}} # {{.missing}}");
    assert.ok(!("problem" in t));
    const hostile = { unit: "x; touch /tmp/owned $(id)" };
    assert.equal(renderTemplate(t, hostile), "systemctl restart x; touch /tmp/owned $(id) # ");
    assert.equal(renderTemplate(t, hostile, shellQuote), "systemctl restart 'x; touch /tmp/owned $(id)' # ");
    assert.equal(renderTemplate(t, { unit: "containerd.service" }, shellQuote), "systemctl restart containerd.service # ");
    assert.equal(renderTemplate(parseTemplate("{{.constructor}}{{.toString}}") as never, {}), "", "no inherited property is a value");
  });
});

function stat(over: Partial<FileStat> = {}): FileStat {
  return { kind: "file", size: 120, mode: 0o100600, uid: 0, dev: 1, ino: 2, mtimeMs: 1_000_000, ...over };
}

describe("file judge", () => {
  const now = 1_000_000 + 3_600_000;
  const rows: Array<[string, Record<string, unknown>, Parameters<typeof judgeFile>[1], "ok" | "problem", RegExp]> = [
    ["present", { path: "/etc/x" }, { exists: true, stat: stat() }, "ok", /^\/etc\/x exists \(mode 0600, owner 0, modified 60 min ago\)$/],
    ["missing", { path: "/etc/x" }, { exists: false }, "problem", /^\/etc\/x does not exist$/],
    ["absent as required", { path: "/etc/x", exists: false }, { exists: false }, "ok", /is absent, as required/],
    [
      "a directory that must be absent",
      { path: "/etc/x", exists: false },
      { exists: true, stat: stat({ kind: "directory" }) },
      "problem",
      /^\/etc\/x \(a directory\) exists but must be absent$/,
    ],
    ["mode exact", { path: "/etc/x", mode: "0640" }, { exists: true, stat: stat() }, "problem", /has mode 0600, expected 0640/],
    ["maxMode met", { path: "/etc/x", maxMode: "0644" }, { exists: true, stat: stat() }, "ok", /exists/],
    [
      "setuid beyond maxMode",
      { path: "/usr/bin/x", maxMode: "0755" },
      { exists: true, stat: stat({ mode: 0o104755 }) },
      "problem",
      /has mode 4755, more than 0755 allows \(extra bits 4000\)/,
    ],
    ["owner by uid", { path: "/etc/x", owner: 0 }, { exists: true, stat: stat({ uid: 1000 }) }, "problem", /is owned by uid 1000, expected uid 0/],
    [
      "too old",
      { path: "/etc/x", maxAgeSeconds: 600 },
      { exists: true, stat: stat() },
      "problem",
      /was last modified 60 min ago \(1970-01-01T00:16:40Z\), more than the 10 min allowed/,
    ],
    [
      "from the future counts as fresh",
      { path: "/etc/x", maxAgeSeconds: 600 },
      { exists: true, stat: stat({ mtimeMs: now + 60_000 }) },
      "ok",
      /modified 0 s ago/,
    ],
    [
      "no match",
      { path: "/etc/x", matches: "^server: https://" },
      { exists: true, stat: stat(), content: "server: http://x\n" },
      "problem",
      /has no match for \/\^server: https:\\\/\\\/\//,
    ],
    [
      "several problems at once",
      { path: "/etc/x", mode: "0600", owner: 0, maxAgeSeconds: 60 },
      { exists: true, stat: stat({ mode: 0o100666, uid: 7 }) },
      "problem",
      /has mode 0666, expected 0600; is owned by uid 7, expected uid 0; was last modified 60 min ago/,
    ],
  ];
  for (const [name, settings, facts, outcome, detail] of rows) {
    it(name, () => {
      const verdict = judgeFile(probe({ kind: "file", ...settings }), facts, now);
      assert.equal(verdict.outcome, outcome);
      assert.match(verdict.detail, detail);
    });
  }
});

describe("sysctl judge", () => {
  const rows: Array<[Record<string, unknown>, string | undefined, "ok" | "problem", RegExp]> = [
    [{ key: "net.ipv4.ip_forward", value: 1 }, "1", "ok", /^net\.ipv4\.ip_forward = 1 \(= 1\)$/],
    [{ key: "net.ipv4.ip_forward", value: 1 }, "0", "problem", /^net\.ipv4\.ip_forward is 0, expected = 1$/],
    [{ key: "net.ipv4.ip_forward", value: "01" }, "1", "ok", /= 1/],
    [{ key: "net.ipv4.ip_local_port_range", value: "1024 65000" }, "1024 65000", "ok", /= 1024 65000/],
    [{ key: "net.ipv4.conf.all.rp_filter", op: "in", value: [0, 2] }, "1", "problem", /is 1, expected one of 0, 2/],
    [{ key: "kernel.panic", op: "notIn", value: [0] }, "10", "ok", /none of 0/],
    [{ key: "fs.file-max", op: ">", value: 100000 }, "9223372036854775807", "ok", /> 100000/],
    [{ key: "vm.swappiness", op: "<=", value: 10 }, "60", "problem", /is 60, expected <= 10/],
    [{ key: "net.bridge.bridge-nf-call-iptables", value: 1 }, undefined, "problem", /does not exist on this node/],
  ];
  for (const [settings, value, outcome, detail] of rows) {
    it(`${JSON.stringify(settings)} on ${JSON.stringify(value)} → ${outcome}`, () => {
      const verdict = judgeSysctl(probe({ kind: "sysctl", ...settings }), value);
      assert.equal(verdict.outcome, outcome);
      assert.match(verdict.detail, detail);
    });
  }

  it("maps keys to /proc/sys paths: dotted, or as a path (interface names with dots)", () => {
    assert.equal(sysctlPath("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
    assert.equal(sysctlPath("net/ipv4/conf/eth0.100/rp_filter"), "/proc/sys/net/ipv4/conf/eth0.100/rp_filter");
  });
});

describe("unit judge", () => {
  it("names every state that is not allowed, and how it was judged", () => {
    const p = probe({ kind: "unit", unit: "kubelet.service", unitFileState: ["enabled"] });
    const verdict = judgeUnit(p, {
      source: "files",
      notFound: false,
      activeState: "inactive",
      subState: "dead",
      unitFileState: "disabled",
      busProblem: "no system bus socket at /run/dbus/system_bus_socket",
    });
    assert.equal(verdict.outcome, "problem");
    assert.equal(
      verdict.detail,
      "kubelet.service is inactive (dead), disabled: ActiveState inactive is not active; UnitFileState disabled is not enabled [judged from its files: no system bus socket at /run/dbus/system_bus_socket]",
    );
    assert.equal(
      judgeUnit(probe({ kind: "unit", unit: "apt-daily.timer", activeState: ["inactive"] }), { source: "systemd", notFound: true, activeState: "inactive" })
        .outcome,
      "ok",
    );
  });

  it("unescapes mount unit names as systemd-escape --path does", () => {
    assert.equal(mountPointOfUnit("mnt-data.mount"), "/mnt/data");
    assert.equal(mountPointOfUnit("var-lib-kubelet-pods\\x2dold.mount"), "/var/lib/kubelet/pods-old");
    assert.equal(mountPointOfUnit("-.mount"), "/");
  });
});

describe("tcp and http judges", () => {
  it("tcp: open, refused, and closed-as-required", () => {
    const open = probe({ kind: "tcp", host: "::1", port: 2379 });
    assert.equal(judgeTcp(open, { connected: true, elapsedMs: 1, timedOut: false }).detail, "[::1]:2379 accepts connections (1 ms)");
    assert.equal(judgeTcp(open, { connected: false, elapsedMs: 1, error: "connect ECONNREFUSED ::1:2379", timedOut: false }).outcome, "problem");
    const closed = probe({ kind: "tcp", host: "0.0.0.0", port: 2375, expect: "closed" });
    assert.match(
      judgeTcp(closed, { connected: false, elapsedMs: 3000, error: "no answer within 3 s", timedOut: true }).detail,
      /does not accept connections \(no answer within 3 s\), as required/,
    );
  });

  it("http: status classes and lists, a failed request, the body excerpt", () => {
    const p = probe({ kind: "http", url: "https://registry.internal:5000/v2/", expectStatus: [200, "4xx"] });
    assert.equal(judgeHttp(p, { status: 404, elapsedMs: 3 }).outcome, "ok");
    assert.match(judgeHttp(p, { status: 502, elapsedMs: 3 }).detail, /answered 502, expected 200, 4xx$/);
    assert.match(judgeHttp(p, { elapsedMs: 3, error: "CERT_HAS_EXPIRED: certificate has expired" }).detail, /failed: CERT_HAS_EXPIRED/);
    const body = judgeHttp(probe({ kind: "http", url: "http://x/", bodyMatches: "ok" }), { status: 200, body: `${"a\n".repeat(300)}ok`, elapsedMs: 1 });
    assert.equal(body.values["body"]?.length, 200);
  });
});

describe("npd-plugin judge (NPD's protocol)", () => {
  const p = probe({ kind: "npd-plugin", path: "/plugins/check.sh", maxOutputBytes: 100 });
  const out = (text: string, bytes = Buffer.byteLength(text), cut = false) => ({ text, bytes, cut });
  const err = out("");
  it("0 ok, 1 problem, anything else unknown; the message is stdout trimmed", () => {
    assert.deepEqual(judgePlugin(p, { kind: "exited", exitCode: 0, stdout: out("  fine\n"), stderr: err, elapsedMs: 1 }), {
      outcome: "ok",
      detail: "fine",
      values: { path: "/plugins/check.sh", exitCode: "0", output: "fine" },
    });
    assert.equal(
      judgePlugin(p, { kind: "exited", exitCode: 1, stdout: out(""), stderr: err, elapsedMs: 1 }).detail,
      "/plugins/check.sh exited 1 without output",
    );
    const unknown = judgePlugin(p, { kind: "exited", exitCode: 255, stdout: out("no tool"), stderr: err, elapsedMs: 1 });
    assert.deepEqual([unknown.outcome, "reason" in unknown ? unknown.reason : ""], ["unknown", "PluginUnknown"]);
    assert.match(judgePlugin(p, { kind: "signalled", signal: "SIGSEGV", stdout: out(""), stderr: err, elapsedMs: 1 }).detail, /was killed by SIGSEGV/);
    assert.match(
      judgePlugin(p, { kind: "exited", exitCode: 1, stdout: out("y".repeat(100), 5000, true), stderr: err, elapsedMs: 1 }).detail,
      /^y{100} … \[output cut at 100 of 5000 bytes\]$/,
    );
    assert.throws(() => judgePlugin(p, { kind: "aborted", reason: "node-doctor is shutting down" }), /was stopped: node-doctor is shutting down/);
  });
});
