# syntax=docker/dockerfile:1
# Node.js 24, the current LTS line (package.json "engines" says what else is supported).

# --- build: compile TypeScript, then keep production dependencies only ---
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY clients/js ./clients/js
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime: compiled code and production node_modules, as the unprivileged node user ---
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    WEBSOCKET_HOST=0.0.0.0 \
    WEBSOCKET_PORT=8765
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# The inbox page (served only with INBOX_PAGE_ENABLED=true in production) and its SDK.
COPY --from=build --chown=node:node /app/src/inbox/public ./src/inbox/public
# The action link pages' stylesheet.
COPY --from=build --chown=node:node /app/src/links/public ./src/links/public
COPY --from=build --chown=node:node /app/clients/js/dist ./clients/js/dist
# The API docs page's own files (served only with DOCS_ENABLED=true in production).
COPY --from=build --chown=node:node /app/src/docs/public ./src/docs/public
USER node
EXPOSE 8765
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const h = process.env.WEBSOCKET_HOST; const host = !h || h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h; fetch('http://' + host + ':' + (process.env.WEBSOCKET_PORT || 8765) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 receives SIGTERM directly and shuts down gracefully.
CMD ["node", "dist/main.js"]
