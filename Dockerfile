# careledger's image. The wheels are built in the first stage and installed in the second, at
# build time: a container starts `careledger` with nothing to download and no index to reach.
#   docker build -t careledger:0.1.0 .
# Without an index on the intranet: docs/OPERATIONS.md, "Installing without an index".
FROM python:3.11-slim AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain domain
COPY application application
COPY projections projections
COPY infrastructure infrastructure
COPY interfaces interfaces
# careledger and every dependency as wheels (a wheelhouse); the second stage needs no index.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# The wheels are mounted for this step only (BuildKit, Docker's builder since 23.0): not a layer.
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels careledger \
 && useradd --system --uid 10001 --create-home --home-dir /srv/careledger careledger \
 && mkdir -p /keys /srv/careledger/var/evidence \
 && chown careledger /keys /srv/careledger/var /srv/careledger/var/evidence \
 && chmod 0700 /keys
USER careledger
# The settings' relative defaults (./var/…, CARELEDGER_EVIDENCE_DIR's ./var/evidence) land here.
WORKDIR /srv/careledger
ENV PYTHONUNBUFFERED=1
# Named volumes mounted here start with this ownership: the key files and the evidence survive
# the container, and are backed up apart from the database (docs/OPERATIONS.md).
VOLUME ["/keys", "/srv/careledger/var/evidence"]
EXPOSE 8000
ENTRYPOINT ["careledger"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
