# The example IVR, served by uvicorn as a non-root user on port 3000.
# Build: docker build -t jambonz-ivr .   Run: docker run -p 3000:3000 jambonz-ivr
# Where no registry is reachable, a local base (python and pip in /usr/local/bin) instead:
#   docker build --build-arg BASE_IMAGE="$(bash scripts/container-base.sh)" -t jambonz-ivr .
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY jambonz_webhooks ./jambonz_webhooks
# uvloop and httptools come as binary wheels: no compiler is needed, in this stage or the next.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000
RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY example_app ./example_app
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '3000'), timeout=2)"]
STOPSIGNAL SIGTERM
CMD ["jambonz-webhooks", "run", "example_app.app:app", "--host", "0.0.0.0", "--drain", "2", "--timeout-graceful-shutdown", "5"]
