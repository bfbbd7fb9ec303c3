# Build: the Swift toolchain image plus Debian's -dev packages for the C libraries.
FROM swift:6.2-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsnappy-dev libprotobuf-c-dev libcurl4-openssl-dev libssl-dev libre2-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Tests Tests
COPY Benchmarks Benchmarks
RUN swift build -c release --product agent --static-swift-stdlib \
 && install -D .build/release/agent /out/agent

# Run: Debian slim with only the runtime libraries.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsnappy1v5 libprotobuf-c1 libcurl4 libre2-9 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 agent \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data agent \
 && mkdir -p /data /etc/agent && chown agent /data
COPY --from=build /out/agent /usr/local/bin/agent
COPY config/demo.yaml /etc/agent/agent.yml
USER 10001
VOLUME /data
EXPOSE 9099
ENTRYPOINT ["/usr/local/bin/agent"]
CMD ["run", "--config.file=/etc/agent/agent.yml", "--storage.path=/data", "--web.listen-address=0.0.0.0:9099"]
