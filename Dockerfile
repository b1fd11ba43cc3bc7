# Stayhold's production image (docs/deployment.md). Two stages:
#   build   — the dependencies into a virtualenv (/opt/venv), the translations compiled (GNU gettext's msgfmt) and the
#             static files collected with whitenoise's manifest (hashed names), all with the build tools around;
#   runtime — the slim Python image with that virtualenv and the application, no compiler, no gettext, running as
#             an unprivileged user. The default command is the web server; compose.yaml runs the same image as the
#             migrate step, the Celery workers and beat.
# The same steps run without Docker in tests/deploy/test_image_commands.py (ops/build-assets.sh, ops/release.sh,
# this file's CMD), because the CI machine cannot pull base images.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# gettext: msgfmt for compilemessages. Every Python dependency ships a binary wheel (psycopg[binary], Pillow, lxml,
# cryptography), so no compiler is needed.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# The dependencies first (the project installs no package of its own: [tool.setuptools] packages = []), so that a
# change of the code alone reuses this layer.
COPY pyproject.toml ./
RUN pip install .
COPY . .
# Translations (.mo) and static files (var/staticfiles with staticfiles.json), exactly as production reads them.
RUN sh ops/build-assets.sh

FROM ${PYTHON_IMAGE} AS runtime
# DL3064 reads "PRIVATE" in PRIVATE_MEDIA_ROOT as a secret; it is a folder (on the /data volume), no secret.
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    DJANGO_DEBUG=false \
    MEDIA_ROOT=/data/media \
    PRIVATE_MEDIA_ROOT=/data/private \
    WEB_CONCURRENCY=3 \
    PORT=8000
RUN groupadd --system --gid 10001 stayhold \
    && useradd --system --uid 10001 --gid stayhold --home-dir /app --no-create-home --shell /usr/sbin/nologin stayhold \
    && mkdir -p /data/media /data/private \
    && chown -R stayhold:stayhold /data
COPY --from=build /opt/venv /opt/venv
# The application belongs to root (the app cannot change its own code); writable for it are /data (photos, private
# proofs: the volume) and var/ itself (the file cache and broker folders used only when REDIS_URL is empty).
COPY --from=build /app /app
RUN chown stayhold:stayhold /app/var
WORKDIR /app
# Numeric, so that Kubernetes runAsNonRoot can verify it without the image's /etc/passwd.
USER 10001:10001
EXPOSE 8000
VOLUME ["/data"]
# gunicorn takes its worker count from WEB_CONCURRENCY; the port is fixed inside the container (publish it elsewhere).
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.py", "--bind", "0.0.0.0:8000"]
