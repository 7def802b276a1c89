# The Tourniquet worker and gateway image (docker-compose.yml runs both from it): compiled JavaScript and the
# prebuilt workflow bundle (`npm run build`), production dependencies only.
FROM node:20.19-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20.19-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
# Runbooks, owners and presets are read at run time from runbooks/ (YAML only; their TypeScript is in dist/).
COPY --from=build /app/runbooks ./runbooks
RUN find runbooks -name '*.ts' -delete
USER node
ENTRYPOINT ["node", "bin/tourniquet.js"]
