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
 || { echo "build: npm ci left no dist/cli/main.js, native/build/Release/afpacket.node or node_modules (see npm's log above)" >&2; exit 1; }
# Native artefacts other than the addon (an XDP/BPF object, say) are built above by `npm ci` and
# copied into the runtime stage next to the addon, below.

# Run: a slim Node image with only what runs (~95 MB of node_modules, mostly client-node).
# The controller runs as UID 65534 (see the Deployment); the speaker's container overrides the
# user to 0 and keeps CAP_NET_RAW only (see the DaemonSet and docs/security.md).
FROM node:${NODE_VERSION}-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/native/build/Release/afpacket.node ./native/build/Release/
# Further native artefacts go here, e.g.:
# COPY --from=build /src/native/build/<name>.bpf.o ./native/build/
USER 65534:65534
ENTRYPOINT ["node", "/app/bin/ironlb.js"]
