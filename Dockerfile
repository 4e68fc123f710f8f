# The champ worker image, for docker-compose.yml and the Helm chart (deploy/helm/champ-worker).
# Small: Node, the compiled worker, its production dependencies and the Docker CLI
# (a static binary from the official CLI image, not the engine package); builds
# use the engine it is pointed at (DOCKER_HOST or a mounted socket). Runs as the
# unprivileged user "node" (uid 1000). Stays on Node 20, the project's version.
#
#   NODE_IMAGE        the Node base (pinned)
#   DOCKER_CLI_IMAGE  where the docker binary comes from (pinned)
#   PREBUILT          offline builds, for engines whose containers reach no network:
#                     a folder in the context holding dist/ and node_modules/ (production,
#                     linux-x64), made by `npm run build` and `npm ci --omit=dev`; npm is not run
# The Temporal core bridge's native binaries for other platforms are dropped (about 110 MB).
ARG NODE_IMAGE=node:20.19.5-bookworm-slim
ARG DOCKER_CLI_IMAGE=docker:28.5.1-cli

# The default Node base named literally: scripts/engine/base-images.sh reads FROM lines,
# not ARG defaults, to make the bases a local engine cannot pull. Nothing uses this stage.
FROM node:20.19.5-bookworm-slim AS node-default

FROM ${DOCKER_CLI_IMAGE} AS docker-cli

FROM ${NODE_IMAGE} AS build
ARG PREBUILT=
WORKDIR /app
COPY package.json package-lock.json ./
RUN if [ -z "$PREBUILT" ]; then npm ci --no-audit --no-fund; fi
COPY . .
RUN if [ -n "$PREBUILT" ]; then rm -rf dist node_modules && mv "$PREBUILT/dist" "$PREBUILT/node_modules" . ; \
    else npm run build && npm prune --omit=dev --no-audit --no-fund; fi \
 && rm -rf "${PREBUILT:-.prebuilt}" src scripts \
 && case "$(uname -m)" in x86_64) keep=x86_64-unknown-linux-gnu ;; aarch64) keep=aarch64-unknown-linux-gnu ;; *) keep= ;; esac \
 && if [ -n "$keep" ]; then for d in node_modules/@temporalio/core-bridge/releases/*; do [ "${d##*/}" = "$keep" ] || rm -rf "$d"; done; fi

FROM ${NODE_IMAGE}
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
WORKDIR /app
# CHAMP_HOME: the worker's state (local image store, staged artifacts), writable by the user.
RUN mkdir -p /var/lib/champ && chown 1000:1000 /var/lib/champ
ENV NODE_ENV=production \
    CHAMP_HOME=/var/lib/champ \
    CHAMP_METRICS_ADDRESS=0.0.0.0:9464 \
    LOG_FORMAT=json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER 1000:1000
EXPOSE 9464
CMD ["node", "dist/src/worker.js"]
