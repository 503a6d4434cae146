# syntax=docker/dockerfile:1
# Multi-stage build: a static binary (pure-Go SQLite, CGO off) on an empty base image.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/portal . \
 && mkdir -p /out/data

FROM scratch
# CA certificates for HTTPS to Kirim and SMTP over TLS.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build /out/portal /portal
# /data holds portal.db and the generated secret key; owned by the non-root user.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV PORTAL_ADDR=:8080 \
    PORTAL_DATA_DIR=/data \
    PORTAL_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/portal", "healthcheck"]
ENTRYPOINT ["/portal"]
CMD ["serve"]
