// V8 flags the agent runs with (package.json "start", the bundle's shebang, the
// Dockerfile, the bench). A test keeps them in agreement. Measured in
// docs/performance.md: --max-semi-space-size=1 caps the young generation (the
// agent allocates little between checks); --no-opt --no-maglev keep V8's
// optimizing compilers off — their code and feedback cost more memory than an
// agent idling between checks gains in speed; --optimize-for-size makes V8
// grow the old generation in 2 MiB steps instead of 8 (major collections come
// sooner), which flattens the heap's saw-tooth: peak RSS -3 MiB for +0.1
// millicore; --no-node-snapshot bootstraps Node from its JavaScript sources
// instead of deserializing its start-up snapshot, whose pages otherwise stay
// mapped: -4 to -6 MiB max RSS with every check on (71.0 against 77.0 MiB
// for this build, 63.0 against 67.4 for the build before fastify, prom-client
// and pino), for about 150 ms more to the first diagnosis. (--lite-mode saves
// about as much as --no-opt but prints a warning at every start; --jitless
// breaks WebAssembly and with it Node's fetch.)
export const AGENT_NODE_FLAGS = ["--max-semi-space-size=1", "--no-opt", "--no-maglev", "--optimize-for-size", "--no-node-snapshot"];
