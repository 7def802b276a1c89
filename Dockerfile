# The Tourniquet worker and gateway image (docker-compose.yml runs both from it).
FROM node:20.19-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY . .
USER node
ENTRYPOINT ["node", "bin/tourniquet.js"]
