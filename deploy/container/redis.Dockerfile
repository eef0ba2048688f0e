# Redis for `make container-smoke`, built from a local Debian image (no registry is
# reachable there); compose.yaml gives the same command to the official image.
ARG BASE=localhost/debian:bookworm
FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
CMD ["redis-server"]
