# kube-irsa image: the webhook and the agent are both `kube-irsa <command>`.
# Build: docker build -t kube-irsa:dev .   (no engine runs in this project's CI; see README)

# 1) production dependencies only, installed on the same Node as the runtime
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# 2) runtime: Node 24 runs the TypeScript sources directly (type stripping), so there is no build step
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY shared ./shared
COPY webhook ./webhook
COPY agent ./agent
USER 65532:65532
ENTRYPOINT ["/app/bin/kube-irsa"]
CMD ["--help"]
