# Build: the native AF_PACKET addon and the TypeScript, with dev dependencies.
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY native ./native
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm ci && npm prune --omit=dev

# Run: a slim Node LTS with only what runs. The controller runs as a non-root user (see the
# Deployment); the speaker needs CAP_NET_RAW only (see the DaemonSet).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
COPY --from=build /src/native/build/Release/*.node ./native/build/Release/
USER 65534:65534
ENTRYPOINT ["node", "/app/bin/ironlb.js"]
