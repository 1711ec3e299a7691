# The rexmon collector on Debian 12 with rrdtool and rrdcached: the packages scripts/start.sh installs
# (ensure_apt rrdtool rrdcached), the npm packages of package-lock.json (npm ci, as ensure_npm does) and
# the collector's build (npm run build -w collector). test/dockerfile.test.mjs keeps it in step with scripts/.
# Build stage: better-sqlite3 compiles from source here (no prebuilt download), so it needs a compiler.
FROM node:20-bookworm-slim AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 make g++ >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/rexmon
COPY package.json package-lock.json tsconfig.base.json ./
COPY collector/package.json collector/package.json
RUN npm ci --no-audit --no-fund
COPY collector collector
RUN npm run --silent build -w collector && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# rrdtool and rrdcached as in scripts/start.sh; curl for the health check and deploy/grafana-init.sh.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rrdtool rrdcached curl ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/rexmon
COPY --from=build /opt/rexmon/package.json ./
COPY --from=build /opt/rexmon/node_modules node_modules
COPY --from=build /opt/rexmon/collector/package.json collector/package.json
COPY --from=build /opt/rexmon/collector/bin collector/bin
COPY --from=build /opt/rexmon/collector/dist collector/dist
COPY deploy deploy
# Not root: the image's "node" user (uid 1000) owns the data volume and the rendered config.
RUN mkdir -p /var/lib/rexmon /run/rexmon /run/rexmon-grafana \
 && chown node:node /var/lib/rexmon /run/rexmon /run/rexmon-grafana \
 && ln -s /opt/rexmon/collector/bin/rexmon.js /usr/local/bin/rexmon
USER node
ENV REXMON_LOG_FORMAT=json
VOLUME /var/lib/rexmon
EXPOSE 8080 2003/tcp 2003/udp
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
ENTRYPOINT ["/opt/rexmon/deploy/collector-entrypoint.sh"]
