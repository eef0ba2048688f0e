# PostgreSQL for `make container-smoke`, built from a local Debian image (no registry is
# reachable there). It takes the official image's variables (POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB) and data folder, so compose.yaml works with either.
ARG BASE=localhost/debian:bookworm
FROM ${BASE}
RUN mkdir -p /etc/postgresql-common \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
    && apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data \
    && chmod 0700 /var/lib/postgresql/data
COPY deploy/container/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
ENTRYPOINT ["postgres-entrypoint"]
