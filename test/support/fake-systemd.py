#!/usr/bin/python3
"""
Serves org.freedesktop.systemd1 on a private bus with the reference D-Bus
library (libdbus via python3-dbus), so node-doctor's own client is tested
against an independent implementation.

Usage: fake-systemd.py BUS_ADDRESS STATE_FILE
STATE_FILE is JSON, re-read on every call so a test can change systemd's
answers between runs:
  {"units": {"kubelet.service": {"Unit": {...}, "Service": {...}}},
   "hang": ["GetUnit"]}           # methods that never answer
GetUnit answers org.freedesktop.systemd1.NoSuchUnit for a unit missing from
"units" or marked "unloaded": true, as systemd does for a unit it has not
loaded; LoadUnit then loads it, and a unit with no file at all loads as
LoadState "not-found", as in systemd.

The Manager's writes are served as systemd serves them, and each call is
appended as a JSON line to STATE_FILE + ".calls" ({"method", "args"}):
RestartUnit and StartUnit (name, mode) answer a job path and leave the unit
active/running (ActiveEnterTimestamp now, NRestarts + 1 for a restart);
EnableUnitFiles (files, runtime, force) answers (carries_install_info,
changes) and sets UnitFileState "enabled"; Reload answers nothing. A method
in "refuse" answers org.freedesktop.DBus.Error.AccessDenied, as polkit does
for a caller it does not allow; one in "hang" never answers.
"""
import json
import sys
import time

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

BUS_ADDRESS, STATE_FILE = sys.argv[1], sys.argv[2]
SYSTEMD = "org.freedesktop.systemd1"

# D-Bus types of the properties the fixtures set; systemd's own types.
TYPES = {
    "ActiveState": dbus.String, "SubState": dbus.String, "LoadState": dbus.String,
    "UnitFileState": dbus.String, "Result": dbus.String, "Id": dbus.String,
    "NRestarts": dbus.UInt32, "MainPID": dbus.UInt32, "ExecMainStatus": dbus.Int32,
    "ActiveEnterTimestamp": dbus.UInt64, "InactiveEnterTimestamp": dbus.UInt64,
}


# Object paths of units LoadUnit was asked for that have no entry: systemd's "not-found" units.
NOT_FOUND = set()


def state():
    with open(STATE_FILE) as f:
        return json.load(f)


def save(s):
    with open(STATE_FILE + ".tmp", "w") as f:
        json.dump(s, f)
    import os
    os.replace(STATE_FILE + ".tmp", STATE_FILE)


def record(method, args):
    with open(STATE_FILE + ".calls", "a") as f:
        f.write(json.dumps({"method": method, "args": args}) + "\n")


class AccessDenied(dbus.DBusException):
    _dbus_error_name = "org.freedesktop.DBus.Error.AccessDenied"


JOBS = [0]


def object_path(unit):
    # systemd escapes every byte outside [A-Za-z0-9] as _xx
    return "/org/freedesktop/systemd1/unit/" + "".join(
        c if c.isalnum() else "_%02x" % ord(c) for c in unit)


def extra_unit_properties(unit):
    """Properties of other types a real systemd sends in the same reply."""
    return {
        "Names": dbus.Array([unit], signature="s"),
        "Triggers": dbus.Array([], signature="s"),
        "Job": dbus.Struct((dbus.UInt32(0), dbus.ObjectPath("/")), signature="uo"),
        "Conditions": dbus.Array([dbus.Struct(("ConditionPathExists", False, False, "/etc/kubernetes", dbus.Int32(1)))], signature="(sbbsi)"),
        "InvocationID": dbus.Array([dbus.Byte(b) for b in range(16)], signature="y"),
        "CanStart": dbus.Boolean(True),
        "StartLimitIntervalUSec": dbus.UInt64(10000000),
    }


def extra_service_properties():
    return {
        "ExecStart": dbus.Array([dbus.Struct(("/usr/bin/kubelet", dbus.Array(["/usr/bin/kubelet", "$KUBELET_KUBEADM_ARGS"], signature="s"), False,
                                              dbus.UInt64(0), dbus.UInt64(0), dbus.UInt64(0), dbus.UInt64(0), dbus.UInt32(0), dbus.Int32(0), dbus.Int32(0)))],
                                signature="(sasbttttuii)"),
        "IOReadBytes": dbus.UInt64(18446744073709551615),  # systemd's "unset": UINT64_MAX
        "OOMScoreAdjust": dbus.Int32(-999),
        "CPUWeight": dbus.UInt64(100),
        "Nice": dbus.Int32(0),
        "IOSchedulingClass": dbus.Int32(2),
        "RestartUSecNext": dbus.UInt64(10000000),
        "MemoryPressureThreshold": dbus.Int64(-1),
        "OOMPolicy": dbus.String("stop"),
        "Environment": dbus.Array([], signature="s"),
        "EffectiveCPUs": dbus.Array([], signature="y"),
        "TimeoutCleanUSec": dbus.Double(1.5),
        "Personality": dbus.Int16(-1),
        "LogLevelMax": dbus.UInt16(7),
        "StatusErrno": dbus.Byte(0),
    }


def typed(props):
    out = {}
    for key, value in props.items():
        out[key] = TYPES.get(key, dbus.String)(value)
    return out


class NoSuchUnit(dbus.DBusException):
    _dbus_error_name = "org.freedesktop.systemd1.NoSuchUnit"


class Manager(dbus.service.Object):
    @dbus.service.method(SYSTEMD + ".Manager", in_signature="s", out_signature="o", async_callbacks=("reply", "error"))
    def GetUnit(self, name, reply, error):
        s = state()
        if "GetUnit" in s.get("hang", []):
            return  # never answer
        unit = s.get("units", {}).get(name)
        if unit is None or unit.get("unloaded"):
            error(NoSuchUnit("Unit %s not loaded." % name))
            return
        reply(dbus.ObjectPath(object_path(name)))

    @dbus.service.method(SYSTEMD + ".Manager", in_signature="s", out_signature="o", async_callbacks=("reply", "error"))
    def LoadUnit(self, name, reply, error):
        s = state()
        if "LoadUnit" in s.get("hang", []):
            return
        NOT_FOUND.add(object_path(name))
        reply(dbus.ObjectPath(object_path(name)))


    def _job(self, method, name, mode, reply, error):
        record(method, [str(name), str(mode)])
        s = state()
        if method in s.get("hang", []):
            return
        if method in s.get("refuse", []):
            error(AccessDenied("Interactive authentication required."))
            return
        unit = s.get("units", {}).get(name)
        if unit is None:
            error(NoSuchUnit("Unit %s not found." % name))
            return
        props = unit.setdefault("Unit", {})
        props["ActiveState"] = "active"
        props["SubState"] = "running"
        props["ActiveEnterTimestamp"] = int(time.time() * 1000000)
        unit.pop("unloaded", None)
        if method == "RestartUnit":
            service = unit.setdefault("Service", {})
            service["NRestarts"] = int(service.get("NRestarts", 0)) + 1
        save(s)
        JOBS[0] += 1
        reply(dbus.ObjectPath("/org/freedesktop/systemd1/job/%d" % JOBS[0]))

    @dbus.service.method(SYSTEMD + ".Manager", in_signature="ss", out_signature="o", async_callbacks=("reply", "error"))
    def RestartUnit(self, name, mode, reply, error):
        self._job("RestartUnit", name, mode, reply, error)

    @dbus.service.method(SYSTEMD + ".Manager", in_signature="ss", out_signature="o", async_callbacks=("reply", "error"))
    def StartUnit(self, name, mode, reply, error):
        self._job("StartUnit", name, mode, reply, error)

    @dbus.service.method(SYSTEMD + ".Manager", in_signature="asbb", out_signature="ba(sss)", async_callbacks=("reply", "error"))
    def EnableUnitFiles(self, files, runtime, force, reply, error):
        record("EnableUnitFiles", [[str(f) for f in files], bool(runtime), bool(force)])
        s = state()
        if "EnableUnitFiles" in s.get("hang", []):
            return
        if "EnableUnitFiles" in s.get("refuse", []):
            error(AccessDenied("Interactive authentication required."))
            return
        changes = []
        for f in files:
            unit = s.get("units", {}).get(str(f))
            if unit is None:
                error(NoSuchUnit("Unit file %s does not exist." % f))
                return
            unit.setdefault("Unit", {})["UnitFileState"] = "enabled"
            changes.append(dbus.Struct(("symlink", "/etc/systemd/system/multi-user.target.wants/" + str(f), "/usr/lib/systemd/system/" + str(f)), signature="sss"))
        save(s)
        reply(True, dbus.Array(changes, signature="(sss)"))

    @dbus.service.method(SYSTEMD + ".Manager", in_signature="", out_signature="", async_callbacks=("reply", "error"))
    def Reload(self, reply, error):
        record("Reload", [])
        reply()


class Units(dbus.service.FallbackObject):
    @dbus.service.method("org.freedesktop.DBus.Properties", in_signature="s", out_signature="a{sv}", rel_path_keyword="rel", async_callbacks=("reply", "error"))
    def GetAll(self, interface, reply, error, rel=None):
        s = state()
        if "GetAll" in s.get("hang", []):
            return
        for unit, props in s.get("units", {}).items():
            if "/" + object_path(unit).rsplit("/", 1)[1] == rel:
                if interface == SYSTEMD + ".Unit":
                    out = extra_unit_properties(unit)
                    out.update(typed(props.get("Unit", {})))
                elif interface == SYSTEMD + ".Service" and unit.endswith(".service"):
                    out = extra_service_properties()
                    out.update(typed(props.get("Service", {})))
                elif interface.startswith(SYSTEMD + "."):
                    # sd-bus: an interface the object does not implement (a mount's Service properties).
                    error(dbus.DBusException("Unknown interface '%s'." % interface, name="org.freedesktop.DBus.Error.UnknownInterface"))
                    return
                else:
                    out = {}
                reply(dbus.Dictionary(out, signature="sv"))
                return
        if "/org/freedesktop/systemd1/unit" + str(rel) in NOT_FOUND:
            if interface == SYSTEMD + ".Unit":
                reply(dbus.Dictionary(typed({"LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": ""}), signature="sv"))
            else:
                reply(dbus.Dictionary({}, signature="sv"))
            return
        error(dbus.DBusException("Unknown object " + str(rel), name="org.freedesktop.DBus.Error.UnknownObject"))


dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(BUS_ADDRESS)
name = dbus.service.BusName(SYSTEMD, bus)
Manager(bus, "/org/freedesktop/systemd1")
Units(bus, "/org/freedesktop/systemd1/unit")
print("ready", flush=True)
GLib.MainLoop().run()
