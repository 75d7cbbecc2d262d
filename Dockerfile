# ironlb image. Build offline on these machines with scripts/build-image.sh (podman, stand-in
# bases); anywhere else `docker build -t ironlb/ironlb:0.1.0 .` (the tag the manifests use).
# NODE_VERSION: Node 24, the Active-then-Maintenance LTS supported until April 2028 (Node 22 ends
# in April 2027, Node 20 ended in April 2026). The suite runs on it in CI (README, "Tests").
# The AF_PACKET addon uses Node-API only and is built in the same image it runs in.
ARG NODE_VERSION=24

# Build: the native AF_PACKET addon and the TypeScript, with dev dependencies.
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
# The official image keeps Node's headers under /usr/local/include/node: build the addon against
# them instead of letting node-gyp download a header tarball (scripts/build-native.mjs).
ENV npm_config_nodedir=/usr/local
# clang and libbpf-dev build the XDP responder (native/xdp, docs/layer2.md "Modes"); without
# them the build would skip it and --layer2-mode xdp would always fall back to AF_PACKET.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends clang llvm libbpf-dev linux-libc-dev \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY native ./native
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
# `npm ci` runs `prepare`, which builds native/build/Release/afpacket.node and dist/. npm 10.8 can
# print "Exit handler never called!" and exit 0 after a failed install, so the outputs are checked
# here: a silent failure fails this step, not a later COPY, and no bad layer is cached.
RUN npm ci && npm prune --omit=dev \
 && test -s dist/cli/main.js && test -s native/build/Release/afpacket.node && test -d node_modules/@kubernetes/client-node \
 && test -s native/xdp/build/responder.bpf.o && test -s native/xdp/build/Release/xdp.node \
 || { echo "build: npm ci left no dist/cli/main.js, native addons (afpacket, xdp), BPF object or node_modules (see npm's log above)" >&2; exit 1; }

# Run: a slim Node image with only what runs (~95 MB of node_modules, mostly client-node).
# The controller runs as UID 65534 (see the Deployment); the speaker's container overrides the
# user to 0 and keeps CAP_NET_RAW only (see the DaemonSet and docs/security.md).
FROM node:${NODE_VERSION}-bookworm-slim
# libbpf1 (with libelf1, zlib1g) loads the XDP responder; only used with --layer2-mode xdp.
# `apt-get clean` and the package caches too: a base without Docker's apt "docker-clean" hook (the
# offline stand-in bases) otherwise keeps ~80 MB of .deb files and pkgcache.bin in this layer.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libbpf1 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/native/build/Release/afpacket.node ./native/build/Release/
COPY --from=build /src/native/xdp/build/responder.bpf.o ./native/xdp/build/
COPY --from=build /src/native/xdp/build/Release/xdp.node ./native/xdp/build/Release/
USER 65534:65534
ENTRYPOINT ["node", "/app/bin/ironlb.js"]
