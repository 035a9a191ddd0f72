# kube-irsa image: the webhook and the agent are both `kube-irsa <command>`.
# Build: docker build -t kube-irsa:dev .   (no engine runs in this project's CI; see README)

# 1) the product bundled (scripts/bundle.ts, esbuild): one minified ES module per entry point — the
#    CLI and the webhook's worker thread — plus shared chunks and source maps, every dependency
#    inside. Loaded from a bundle, @kubernetes/client-node and the AWS SDK cost a fraction of the
#    memory they take from node_modules, and Node does not load its TypeScript stripper (~18 MiB).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY scripts ./scripts
COPY bin ./bin
COPY shared ./shared
COPY webhook ./webhook
COPY agent ./agent
RUN node scripts/bundle.ts /app

# 2) runtime: the bundle and the launcher (bin/kube-irsa runs bin/kube-irsa.js with source maps);
#    no node_modules: nothing is loaded from outside the bundle
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app ./
COPY bin/kube-irsa ./bin/kube-irsa
USER 65532:65532
ENTRYPOINT ["/app/bin/kube-irsa"]
CMD ["--help"]
