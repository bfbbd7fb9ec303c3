import Model
import Testing
import WAL
@testable import WALInspect

@Suite("value, time and label formatting")
struct FormattingTests {
    /// Expected strings are what Prometheus's API prints (Go `strconv.FormatFloat` with `f`, or
    /// `e` below 1e-6 and from 1e21 on, precision -1).
    @Test(arguments: [
        (1.0, "1"), (0.1, "0.1"), (-2.5, "-2.5"), (100.0, "100"), (12345.5, "12345.5"),
        (1.0 / 3, "0.3333333333333333"), (0.000001, "0.000001"), (1e-7, "1e-07"), (1.5e-300, "1.5e-300"),
        (1e20, "100000000000000000000"), (1e21, "1e+21"), (1.5e21, "1.5e+21"), (Double("123456789012345678")!, "123456789012345680"),
        (0.0, "0"), (-0.0, "-0"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (Double.nan, "NaN"),
        (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"), (5e-324, "5e-324"),
    ])
    func valuesArePrintedAsPrometheusPrintsThem(value: Double, expected: String) {
        #expect(PrometheusFormat.value(value) == expected)
    }

    @Test func onlyTheStaleMarkerBitPatternIsStale() {
        #expect(PrometheusFormat.isStaleMarker(Double(bitPattern: 0x7ff0_0000_0000_0002)))
        #expect(!PrometheusFormat.isStaleMarker(.nan))
        #expect(!PrometheusFormat.isStaleMarker(Double(bitPattern: 0x7ff0_0000_0000_0001)))
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"), (1_704_164_645_678, "2024-01-02T03:04:05.678Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"), (-1, "1969-12-31T23:59:59.999Z"),
        (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
    ])
    func timestampsAreRFC3339InUTCWithMilliseconds(ms: Int64, expected: String) {
        #expect(PrometheusFormat.time(milliseconds: ms) == expected)
    }

    @Test(arguments: [
        ("2024-01-02T03:04:05Z", Int64(1_704_164_645_000)), ("2024-01-02T03:04:05.678Z", 1_704_164_645_678),
        ("2024-01-02t04:04:05.1234+01:00", 1_704_164_645_123), ("2024-01-01T22:04:05-05:00", 1_704_164_645_000),
        ("1704164645", 1_704_164_645_000), ("1704164645.5", 1_704_164_645_500), ("-1.25", -1250), ("0", 0),
    ])
    func timeArgumentsAcceptRFC3339AndUnixSeconds(text: String, expected: Int64) throws {
        #expect(try TimeArgument.milliseconds(text) == expected)
    }

    @Test(arguments: ["", "yesterday", "2024-01-02", "2024-02-30T00:00:00Z", "2024-01-02T03:04:05", "12e3", "1.", "2024-01-02T25:00:00Z"])
    func badTimeArgumentsAreRejected(text: String) {
        #expect(throws: TimeArgumentError(text: text)) { try TimeArgument.milliseconds(text) }
    }

    @Test func timeArgumentsRoundTripThroughTheFormatter() throws {
        for ms: Int64 in [0, 1, 999, 1_704_164_645_678, -86_400_001, 253_402_300_799_999] {
            #expect(try TimeArgument.milliseconds(PrometheusFormat.time(milliseconds: ms)) == ms)
        }
    }

    @Test func labelValuesAreEscaped() {
        #expect(PrometheusFormat.labels(labels("x", ("path", "C:\\a \"b\"\nc"))) == #"{__name__="x", path="C:\\a \"b\"\nc"}"#)
        #expect(PrometheusFormat.labels(Labels.empty) == "{}")
    }
}
