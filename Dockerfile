# node-doctor's image: the agent bundle (dist/node-doctor.mjs) on Node.js 24
# LTS, the runtime the project pins (package.json's `node` devDependency; a
# test keeps the two versions equal).
#   docker build -t <registry>/node-doctor:0.1.0 .
# Kubernetes probes /healthz and /readyz; the image has no HEALTHCHECK.

# 1. Build the bundle with the dev dependencies (esbuild, TypeScript types).
FROM node:24.21.0-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency would download a second Node.js;
# the base image's is the same version, and esbuild runs from its platform package.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY src/ src/
RUN node scripts/build.mjs
# The runtime stage takes dist/chunks/ whole: what the bundle imports lazily (pino-pretty), without source maps.
RUN rm dist/chunks/*.map

# 2. The image: Node.js and the bundle. The bundle holds the production
# dependencies the agent and its commands load (fastify, pino, prom-client, yaml), so
# no node_modules is needed. The one module left out of it,
# @kubernetes/client-node (107 MiB installed), serves only kubeconfigs with
# exec or auth-provider plugins; in a pod node-doctor uses its service account.
FROM node:24.21.0-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="node-doctor" \
      org.opencontainers.image.description="Node-health agent for Kubernetes: says why a node is sick and how to fix it" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
ENV NODE_ENV=production
# journalctl, for the kubelet-logs check: it reads the host's journal files
# (mounted under /host) with the one long-lived child the agent runs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends systemd \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The bundle without its source map (3 MiB the agent never reads), and its lazily loaded chunks.
COPY --from=build /src/dist/node-doctor.mjs ./dist/node-doctor.mjs
COPY --from=build /src/dist/chunks/ ./dist/chunks/
# `kubectl exec <pod> -- node-doctor check` (the bundle's shebang carries the V8 flags).
RUN ln -s /app/dist/node-doctor.mjs /usr/local/bin/node-doctor
# Root, as the chart runs it: kubelet's PKI files are root-owned 0600. The chart
# drops every capability and mounts the host read-only.
USER 0
ENTRYPOINT ["node", "--max-semi-space-size=1", "--no-opt", "--no-maglev", "--optimize-for-size", "--no-node-snapshot", "/app/dist/node-doctor.mjs"]
CMD ["run", "--host-root=/host"]
