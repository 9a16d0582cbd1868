# One image for the hub, the gateways and the simulator; the command picks the part.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The `node` devDependency is only for hosts whose Node is older; the image has Node 24.
RUN npm ci --omit=dev --no-audit --no-fund
COPY protocol ./protocol
COPY runtime ./runtime
COPY storage ./storage
COPY broker ./broker
COPY gateway ./gateway
COPY device-sim ./device-sim
# The web console the hub serves under /console (its browser modules are read at request time).
COPY console ./console
# Named volumes take this folder's owner, so the registry is writable as `node`.
RUN mkdir -p /data /outbox && chown node:node /data /outbox
USER node
CMD ["node", "broker/src/main.ts"]
