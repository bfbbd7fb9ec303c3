import AgentConfig
import Testing

@Suite struct WALConfigTests {
    @Test func defaultsCapTheWALAtOneGiBAndADay() throws {
        let config = try ConfigLoader.parse(yaml: "scrape_configs: []\n", file: "f.yml")
        #expect(config.wal.maxSize == 1 << 30)
        #expect(config.wal.maxAge == .seconds(86_400))
        #expect(config.wal.segmentSize == 128 << 20)
        #expect(config.wal.compression)
    }

    @Test func walSectionSetsSizesAgeAndCompression() throws {
        let config = try ConfigLoader.parse(yaml: """
            wal:
              segment_size: 64KiB
              max_size: 1MiB
              max_age: 2h
              compression: none
            """, file: "f.yml")
        #expect(config.wal.segmentSize == 64 << 10)
        #expect(config.wal.maxSize == 1 << 20)
        #expect(config.wal.maxAge == .seconds(7200))
        #expect(!config.wal.compression)
    }

    @Test func zeroMeansNoCap() throws {
        let config = try ConfigLoader.parse(yaml: "wal:\n  max_size: 0\n  max_age: 0s\n", file: "f.yml")
        #expect(config.wal.maxSize == 0)
        #expect(config.wal.maxAge == .zero)
    }

    @Test func invalidWALSettingsAreRejectedWithTheirKey() {
        expectRejected("wal:\n  segment_size: 1KiB\n", message: "at least 65536 bytes", fromLine: 2)
        expectRejected("wal:\n  segment_size: 1MiB\n  max_size: 1MiB\n", message: "at least three times wal.segment_size", fromLine: 2)
        expectRejected("wal:\n  compression: zstd\n", message: "must be snappy or none", fromLine: 2)
        expectRejected("wal:\n  max_age: soon\n", message: "invalid duration", fromLine: 2)
        expectRejected("wal:\n  retention: 1d\n", message: "retention", fromLine: 2)
    }

    @Test func queueConfigRetryStatusesAndProtocolFallback() throws {
        let config = try ConfigLoader.parse(yaml: """
            remote_write:
              - url: http://hub:9090/api/v1/write
                protobuf_message: io.prometheus.write.v2.Request
                protobuf_message_fallback: true
                queue_config:
                  retry_on_http_status: [408, 425]
            """, file: "f.yml")
        #expect(config.remoteWrite[0].queueConfig.retryOnHTTPStatus == [408, 425])
        #expect(config.remoteWrite[0].protobufMessageFallback)
        expectRejected("""
            remote_write:
              - url: http://hub:9090/api/v1/write
                queue_config:
                  retry_on_http_status: [200]
            """, message: "must be an HTTP status from 400 to 599", fromLine: 4)
    }
}
