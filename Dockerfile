# ironlb image: `docker build -t ironlb/ironlb:0.1.0 .` (the tag the manifests use).
# NODE_VERSION: the tests run on Node 20 (see package.json engines); Node 20 left LTS in April 2026, so
# build with `--build-arg NODE_VERSION=22` once the suite has passed on 22. The AF_PACKET addon
# uses Node-API only, but it is built in the same image as it runs, so the ABI always matches.
ARG NODE_VERSION=20

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
# `npm ci` runs `prepare`, which builds native/build/Release/afpacket.node and dist/.
RUN npm ci && npm prune --omit=dev

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
USER 65534:65534
ENTRYPOINT ["node", "/app/bin/ironlb.js"]
