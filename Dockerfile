# kube-irsa image: the webhook and the agent are both `kube-irsa <command>`.
# Build: docker build -t kube-irsa:dev .   (no engine runs in this project's CI; see README)

# 1) the product built to JavaScript (tsconfig.build.json): Node then does not load its TypeScript
#    stripper, which costs ~18 MiB of resident memory in every process
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY shared ./shared
COPY webhook ./webhook
COPY agent ./agent
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir /app

# 2) production dependencies only, installed on the same Node as the runtime
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# 3) runtime: JavaScript, production dependencies and the launcher (bin/kube-irsa picks the .js entry)
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app ./
COPY package.json ./
COPY bin/kube-irsa ./bin/kube-irsa
USER 65532:65532
ENTRYPOINT ["/app/bin/kube-irsa"]
CMD ["--help"]
