// Servers a network-namespace test runs inside its namespaces (started with `ip netns exec`):
//   --dns HOST:PORT NAME=ADDRESS   a DNS server answering NAME with an A record (UDP and TCP)
//   --tcp HOST:PORT                a TCP listener that accepts and closes (an API server endpoint)
//   --http HOST:PORT PATH=BODY     an HTTP server answering PATH with BODY (kube-proxy's /proxyMode)
//   --relay HOST:PORT=SOCKET       a TCP listener piping each connection to a unix socket (the API server outside)
// Prints "ready" once every listener is up. Reads commands on stdin, one per line, and echoes each when done:
//   dns answer | dns nxdomain | dns silent
// Exits when stdin closes.
import dgram from "node:dgram";
import http from "node:http";
import net from "node:net";
import { createInterface } from "node:readline";
import packet from "dns-packet";

const RCODE = { NXDOMAIN: 3 };
let dnsMode = "answer";

function hostPort(text) {
  const i = text.lastIndexOf(":");
  return [text.slice(0, i), Number(text.slice(i + 1))];
}

function answer(query, records) {
  const question = query.questions?.[0];
  const base = { id: query.id, type: "response", flags: packet.AUTHORITATIVE_ANSWER | (query.flags & packet.RECURSION_DESIRED), questions: query.questions };
  if (dnsMode === "nxdomain" || !question || !records.has(question.name.toLowerCase())) return { ...base, flags: base.flags | RCODE.NXDOMAIN };
  return question.type === "A" ? { ...base, answers: [{ type: "A", name: question.name, ttl: 5, data: records.get(question.name.toLowerCase()) }] } : base;
}

async function dnsServer(address, records) {
  const [host, port] = hostPort(address);
  const udp = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4");
  udp.on("message", (message, peer) => {
    if (dnsMode === "silent") return;
    let query;
    try {
      query = packet.decode(message);
    } catch {
      return;
    }
    udp.send(packet.encode(answer(query, records)), peer.port, peer.address);
  });
  await new Promise((resolve, reject) => udp.once("error", reject).bind(port, host, resolve));
  const tcp = net.createServer((socket) => {
    let buffer = Buffer.alloc(0);
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 2 || buffer.length < 2 + buffer.readUInt16BE(0) || dnsMode === "silent") return;
      socket.end(packet.streamEncode(answer(packet.streamDecode(buffer), records)));
    });
  });
  await new Promise((resolve, reject) => tcp.once("error", reject).listen(port, host, resolve));
}

async function listen(server, address) {
  const [host, port] = hostPort(address);
  await new Promise((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
}

const args = process.argv.slice(2);
const started = [];
for (let i = 0; i < args.length; i++) {
  const flag = args[i];
  if (flag === "--dns") {
    const address = args[++i];
    const records = new Map();
    const [name, ip] = args[++i].split("=");
    records.set(name.toLowerCase(), ip);
    started.push(dnsServer(address, records));
  } else if (flag === "--tcp") {
    started.push(
      listen(
        net.createServer((socket) => socket.on("error", () => undefined).end()),
        args[++i],
      ),
    );
  } else if (flag === "--http") {
    const address = args[++i];
    const [path, body] = args[++i].split("=");
    started.push(
      listen(
        http.createServer((req, res) => (req.url === path ? res.end(body) : res.writeHead(404).end())),
        address,
      ),
    );
  } else if (flag === "--relay") {
    const [address, socketPath] = args[++i].split("=");
    const relay = net.createServer((client) => {
      const upstream = net.connect(socketPath);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    started.push(listen(relay, address));
  } else {
    console.error(`netns-helper: unknown argument ${flag}`);
    process.exit(2);
  }
}
await Promise.all(started);
process.stdout.write("ready\n");

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const [what, mode] = line.trim().split(/\s+/);
  if (what === "dns" && ["answer", "nxdomain", "silent"].includes(mode)) dnsMode = mode;
  process.stdout.write(`${line.trim()}\n`);
});
lines.on("close", () => process.exit(0));
