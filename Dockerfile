# One image for every visitdesk service; each container's command picks what it runs:
#   uvicorn --factory services.visits.main:create_app --host 0.0.0.0 --port 8001
#   visitdesk migrate visits
# Build: docker build -t visitdesk .   (docker-compose.yml and deploy/k8s use this image)

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
RUN pip install --no-cache-dir uv==0.13.8
# Bytecode is compiled here because the runtime file system is read-only.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies before sources, so a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY shared ./shared
COPY services ./services
COPY visitdesk ./visitdesk
# Installed as a wheel into the virtualenv: the runtime stage needs nothing but /app/.venv.
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 visitdesk \
 && useradd --system --uid 10001 --gid visitdesk --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin visitdesk
COPY --from=builder /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
# Numeric, so Kubernetes can verify runAsNonRoot without a passwd lookup.
USER 10001:10001
EXPOSE 8001 8002 8003 8004
CMD ["visitdesk", "--help"]
