/** The D-Bus client and systemd reader against a real dbus-daemon and a libdbus-served systemd stand-in. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DbusConnection, DbusConnectionError, DbusError, decodeMessage, encodeMethodCall, messageLength, parseSignature } from "../../src/wire/dbus.js";
import { RootedHost } from "../../src/node/host.js";
import { SystemdBus } from "../../src/node/systemd.js";
import { startFakeSystemd, usec, type FakeSystemd, type SystemdState } from "../support/fake-systemd.js";

const KUBELET_ACTIVE: SystemdState = {
  units: {
    "kubelet.service": {
      Unit: {
        Id: "kubelet.service",
        LoadState: "loaded",
        ActiveState: "active",
        SubState: "running",
        UnitFileState: "enabled",
        ActiveEnterTimestamp: usec("2026-11-24T11:00:00Z"),
        InactiveEnterTimestamp: 0,
      },
      Service: { Result: "success", NRestarts: 2, MainPID: 4242, ExecMainStatus: 0 },
    },
  },
};

const BUS = { destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus" };

describe("D-Bus wire format", () => {
  it("encodes a method call the way libdbus decodes it, and decodes its own encoding", () => {
    const bytes = encodeMethodCall({ ...BUS, member: "GetNameOwner", args: ["org.freedesktop.systemd1"] }, 7);
    assert.equal(messageLength(bytes), bytes.length);
    const decoded = decodeMessage(bytes);
    assert.equal(decoded.serial, 7);
    assert.equal(decoded.signature, "s");
    assert.deepEqual(decoded.body, ["org.freedesktop.systemd1"]);
  });

  it("waits for a whole message and refuses absurd sizes", () => {
    const bytes = encodeMethodCall({ ...BUS, member: "Hello" }, 1);
    assert.equal(messageLength(bytes.subarray(0, 20)), 0);
    const huge = Buffer.from(bytes);
    huge.writeUInt32LE(0x7fffffff, 4);
    assert.throws(() => messageLength(huge), /exceeds/);
    const bad = Buffer.from(bytes);
    bad[0] = 0x21;
    assert.throws(() => messageLength(bad), /endianness/);
  });

  it("rejects malformed signatures with a clear error", () => {
    for (const sig of ["a", "(", "()", "a{vs}", "z", "(((((((((((((((((((((((((((((((((((i)))))))))))))))))))))))))))))))))))"]) {
      assert.throws(() => parseSignature(sig), DbusConnectionError, sig);
    }
    assert.equal(parseSignature("a{sv}(sasbttttuii)").length, 2);
  });

  it("reports a truncated body as a protocol error, not a crash", () => {
    const bytes = encodeMethodCall({ ...BUS, member: "GetNameOwner", args: ["x".repeat(40)] }, 3);
    const cut = Buffer.from(bytes.subarray(0, bytes.length - 10));
    cut.writeUInt32LE(30, 4); // body length claims less than the string inside says
    assert.throws(() => decodeMessage(cut), /truncated/);
  });
});

describe("D-Bus client on a real dbus-daemon", () => {
  let dir: string;
  let systemd: FakeSystemd;
  let socketPath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "node-doctor-dbus-"));
    socketPath = join(dir, "run/dbus/system_bus_socket");
    systemd = await startFakeSystemd(socketPath, KUBELET_ACTIVE);
  });
  after(async () => {
    await systemd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("authenticates, says Hello and reads the bus's own properties", async () => {
    const connection = await DbusConnection.connect(socketPath, { timeoutMs: 2000 });
    try {
      assert.match(connection.uniqueName, /^:\d+\.\d+$/);
      const [props] = await connection.call(
        { ...BUS, interface: "org.freedesktop.DBus.Properties", member: "GetAll", args: ["org.freedesktop.DBus"] },
        { timeoutMs: 2000 },
      );
      assert.ok(props && typeof props === "object" && !Array.isArray(props) && Array.isArray(props["Features"]));
      const [names] = await connection.call({ ...BUS, member: "ListNames" }, { timeoutMs: 2000 });
      assert.ok(Array.isArray(names) && names.includes("org.freedesktop.systemd1"));
    } finally {
      connection.close();
    }
  });

  it("turns an error reply into a DbusError and keeps the connection usable", async () => {
    const connection = await DbusConnection.connect(socketPath, { timeoutMs: 2000 });
    try {
      await assert.rejects(
        connection.call({ ...BUS, member: "GetNameOwner", args: ["no.such.name"] }, { timeoutMs: 2000 }),
        (error: unknown) => error instanceof DbusError && error.errorName === "org.freedesktop.DBus.Error.NameHasNoOwner",
      );
      const [owner] = await connection.call({ ...BUS, member: "GetNameOwner", args: ["org.freedesktop.systemd1"] }, { timeoutMs: 2000 });
      assert.match(String(owner), /^:\d+\.\d+$/);
    } finally {
      connection.close();
    }
  });

  it("reads kubelet.service from systemd, including every property type systemd sends", async () => {
    const bus = new SystemdBus(new RootedHost(dir), "/run/dbus/system_bus_socket", 2000);
    try {
      assert.equal(await bus.available(), true);
      const state = await bus.unitState("kubelet.service");
      assert.deepEqual(state, {
        loaded: true,
        loadState: "loaded",
        activeState: "active",
        subState: "running",
        unitFileState: "enabled",
        activeEnterTimestampMs: Date.parse("2026-11-24T11:00:00Z"),
        result: "success",
        nRestarts: 2,
        mainPid: 4242,
        execMainStatus: 0,
      });
    } finally {
      bus.close();
    }
  });

  it("decodes the nested and 64-bit values in systemd's replies exactly", async () => {
    const connection = await DbusConnection.connect(socketPath, { timeoutMs: 2000 });
    try {
      const [props] = await connection.call(
        {
          destination: "org.freedesktop.systemd1",
          path: "/org/freedesktop/systemd1/unit/kubelet_2eservice",
          interface: "org.freedesktop.DBus.Properties",
          member: "GetAll",
          args: ["org.freedesktop.systemd1.Service"],
        },
        { timeoutMs: 2000 },
      );
      assert.ok(props && typeof props === "object" && !Array.isArray(props));
      assert.equal(props["IOReadBytes"], 18446744073709551615n, "UINT64_MAX stays exact as a bigint");
      assert.equal(props["MemoryPressureThreshold"], -1);
      assert.equal(props["OOMScoreAdjust"], -999);
      assert.equal(props["Personality"], -1);
      assert.equal(props["TimeoutCleanUSec"], 1.5);
      assert.deepEqual(props["ExecStart"], [["/usr/bin/kubelet", ["/usr/bin/kubelet", "$KUBELET_KUBEADM_ARGS"], false, 0, 0, 0, 0, 0, 0, 0]]);
      assert.deepEqual(props["EffectiveCPUs"], []);
    } finally {
      connection.close();
    }
  });

  it("loads a unit systemd has unloaded (GetUnit: NoSuchUnit, then LoadUnit), and knows a unit that does not exist", async () => {
    const bus = new SystemdBus(new RootedHost(dir), "/run/dbus/system_bus_socket", 2000);
    try {
      await systemd.setState({
        units: {
          "kubelet.service": {
            Unit: { LoadState: "loaded", ActiveState: "inactive", SubState: "dead", UnitFileState: "disabled" },
            Service: { Result: "success" },
            unloaded: true,
          },
        },
      });
      assert.deepEqual(await bus.unitState("kubelet.service"), {
        loaded: true,
        loadState: "loaded",
        activeState: "inactive",
        subState: "dead",
        unitFileState: "disabled",
        result: "success",
      });
      assert.deepEqual(await bus.unitState("nonexistent.service"), {
        loaded: true,
        loadState: "not-found",
        activeState: "inactive",
        subState: "dead",
        unitFileState: "",
      });
    } finally {
      await systemd.setState(KUBELET_ACTIVE);
      bus.close();
    }
  });

  it("gives up on a call that never answers within its deadline, then reconnects", async () => {
    const bus = new SystemdBus(new RootedHost(dir), "/run/dbus/system_bus_socket", 300);
    try {
      await systemd.setState({ ...KUBELET_ACTIVE, hang: ["GetAll"] });
      const started = performance.now();
      await assert.rejects(bus.unitState("kubelet.service"), /timed out after 300 ms/);
      assert.ok(performance.now() - started < 1500, "the deadline holds");
      await systemd.setState(KUBELET_ACTIVE);
      assert.equal((await bus.unitState("kubelet.service")).activeState, "active");
    } finally {
      bus.close();
    }
  });

  it("honours an abort signal", async () => {
    const bus = new SystemdBus(new RootedHost(dir), "/run/dbus/system_bus_socket", 5000);
    try {
      await systemd.setState({ ...KUBELET_ACTIVE, hang: ["GetUnit"] });
      await assert.rejects(bus.unitState("kubelet.service", AbortSignal.timeout(200)), /aborted/);
    } finally {
      await systemd.setState(KUBELET_ACTIVE);
      bus.close();
    }
  });

  it("re-establishes the connection after the bus restarts", async () => {
    const bus = new SystemdBus(new RootedHost(dir), "/run/dbus/system_bus_socket", 2000);
    try {
      assert.equal((await bus.unitState("kubelet.service")).activeState, "active");
      await systemd.stopBus();
      await assert.rejects(bus.unitState("kubelet.service"), DbusConnectionError);
      await systemd.startBus();
      assert.equal((await bus.unitState("kubelet.service")).activeState, "active");
    } finally {
      bus.close();
    }
  });
});

describe("D-Bus client against sockets that are not a bus", () => {
  let dir: string;
  const servers: Server[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "node-doctor-notbus-"));
  });
  after(async () => {
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  function serve(name: string, onData: (data: Buffer, reply: (s: string | Buffer) => void) => void): Promise<string> {
    const path = join(dir, name);
    const server = createServer((socket) => socket.on("data", (d) => onData(d, (s) => socket.write(s))));
    servers.push(server);
    return new Promise((resolve) => server.listen(path, () => resolve(path)));
  }

  it("names the socket when nothing listens", async () => {
    await assert.rejects(DbusConnection.connect(join(dir, "missing"), { timeoutMs: 1000 }), /cannot connect to .*missing/);
  });

  it("reports a rejected authentication", async () => {
    const path = await serve("rejects", (_d, reply) => reply("REJECTED EXTERNAL DBUS_COOKIE_SHA1\r\n"));
    await assert.rejects(DbusConnection.connect(path, { timeoutMs: 1000 }), /rejected EXTERNAL authentication/);
  });

  it("times out on a server that accepts and says nothing", async () => {
    const path = await serve("silent", () => undefined);
    await assert.rejects(DbusConnection.connect(path, { timeoutMs: 300 }), /timed out after 300 ms/);
  });

  it("fails cleanly on garbage after authentication", async () => {
    const path = await serve("garbage", (d, reply) => {
      if (d.includes("AUTH")) reply("OK 0123456789abcdef0123456789abcdef\r\n");
      else reply(Buffer.alloc(64, 0xff));
    });
    await assert.rejects(DbusConnection.connect(path, { timeoutMs: 1000 }), /endianness|truncated|exceeds/);
  });
});
