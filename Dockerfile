# Camio Portal's image: one image for every role (web, workers, beat, migrate).
#   docker build -t camio-portal .            (podman build --format docker -t camio-portal .)
# BASE is any Debian-based image; python:3.11-slim-bookworm by default. A plain Debian
# image works too (python3 is installed from Debian): `make container-smoke` builds from
# a local one, as no registry is reachable there.
ARG BASE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE} AS build
# A base without Python gets Debian's (bookworm: 3.11); python:*-slim has its own.
RUN if ! command -v python3 >/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; fi
RUN python3 -m venv /opt/camio
# Behind a TLS-inspecting proxy, give pip its CA: mount the bundle and name it, e.g.
# podman build -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro \
#   --build-arg PIP_CERT=/etc/ssl/host-ca.crt ... (make container-smoke does).
ARG PIP_CERT=
WORKDIR /src
# The tested versions, hash-checked, before the code: a code change reuses this layer.
COPY requirements.lock ./
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
    && /opt/camio/bin/pip install --no-cache-dir --disable-pip-version-check \
        --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE manage.py ./
COPY camio_portal camio_portal
COPY apikit apikit
COPY domains domains
COPY callbacks callbacks
COPY incidents incidents
COPY pacs pacs
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
    && /opt/camio/bin/pip wheel --no-cache-dir --disable-pip-version-check --no-deps . -w /dist \
    && /opt/camio/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps /dist/*.whl
# Static files once, at build time (production settings need their variables set; none of
# these values is kept in the image).
RUN env CAMIO_MODE=production SECRET_KEY=build-only ALLOWED_HOSTS=build \
        FIELD_ENCRYPTION_KEYS=ZmllbGQta2V5LWZvci10aGUtYnVpbGQtb25seS0wMDA= \
        DATABASE_URL=postgres://build@build/build CELERY_BROKER_URL=redis://build:6379/0 \
        CACHE_URL=redis://build:6379/1 EMAIL_URL=smtp://build STATIC_ROOT=/opt/camio/static \
        /opt/camio/bin/camio-portal manage collectstatic --noinput --verbosity 0

FROM ${BASE}
RUN if ! command -v python3 >/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends python3 \
        && rm -rf /var/lib/apt/lists/*; fi \
    && useradd --uid 10001 --user-group --home-dir /var/lib/camio --create-home \
        --shell /usr/sbin/nologin camio
COPY --from=build /opt/camio /opt/camio
ENV PATH=/opt/camio/bin:$PATH \
    CAMIO_MODE=production \
    STATIC_ROOT=/opt/camio/static \
    LOG_FORMAT=json \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER camio
WORKDIR /var/lib/camio
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["camio-portal", "health", "web"]
ENTRYPOINT ["camio-portal"]
CMD ["web"]
