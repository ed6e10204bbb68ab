# One image for every OMS process: the six services and the operator.
#   docker build -t oms .
#   docker run oms python -m oms.menu      (or oms.stock, oms.order, oms.payment, oms.kitchen,
#                                           oms.gateway, oms_operator)
# The command is the same one `scripts/dev` runs each service with.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/oms
WORKDIR /src
# Dependencies first, so editing code does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p services/oms operator/oms_operator \
    && /opt/oms/bin/pip install --quiet . \
    && /opt/oms/bin/pip uninstall --quiet --yes oms
COPY services ./services
COPY operator ./operator
RUN /opt/oms/bin/pip install --quiet --no-deps .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 oms \
    && useradd --system --uid 10001 --gid oms --no-create-home --home-dir /nonexistent oms
COPY --from=build /opt/oms /opt/oms
# Our own package belongs to the user the processes run as, so that `docker compose watch`
# (which syncs as that user) can write into it; the libraries stay root's. On Kubernetes the
# root filesystem is read-only, so nothing there can change it.
COPY --from=build --chown=10001:10001 /opt/oms/lib/python3.11/site-packages/oms /opt/oms/lib/python3.11/site-packages/oms
ENV PATH=/opt/oms/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRPC_HOST=0.0.0.0 \
    GATEWAY_HOST=0.0.0.0 \
    OPS_HOST=0.0.0.0
USER 10001:10001
# gRPC services listen on 50051, the gateway on 8080, every process's ops server on 9464.
EXPOSE 50051 8080 9464
CMD ["python", "-m", "oms.gateway"]
