import CSnappy

/// Snappy compression in the *block* format (no framing), as the Prometheus remote-write
/// protocol requires for request bodies.
///
/// A thin, allocation-conscious wrapper over libsnappy's C API. All functions are pure and
/// thread-safe.
public enum Snappy {
    /// The largest compressed size libsnappy may produce for `inputLength` bytes.
    public static func maxCompressedLength(_ inputLength: Int) -> Int {
        Int(snappy_max_compressed_length(inputLength))
    }

    /// Compresses `input` into a new array.
    ///
    /// Compressing an empty input yields the one-byte block `[0x00]`, which
    /// ``decompress(_:maxLength:)`` turns back into an empty array.
    public static func compress(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        input.withUnsafeBytes { compress($0, into: &output) }
        return output
    }

    /// Compresses `input`, replacing the contents of `output`.
    ///
    /// `output`'s existing capacity is reused; it only grows when it is smaller than
    /// ``maxCompressedLength(_:)`` of the input, so a caller that keeps one buffer per shard
    /// compresses without allocating once the buffer has reached its working size.
    public static func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        let bound = maxCompressedLength(input.count)
        output.removeAll(keepingCapacity: true)
        output.append(contentsOf: repeatElement(0, count: bound))
        var written = bound
        let status: snappy_status = output.withUnsafeMutableBufferPointer { out in
            // `bound` is at least 32, so `out` always has an address; an empty input may not.
            let dest = UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self)
            guard let source = input.baseAddress, input.count > 0 else {
                return snappy_compress(dest, 0, dest, &written)
            }
            return snappy_compress(source.assumingMemoryBound(to: CChar.self), input.count, dest, &written)
        }
        // With a buffer of snappy_max_compressed_length bytes compression cannot fail.
        precondition(status == SNAPPY_OK, "snappy_compress failed with status \(status.rawValue)")
        output.removeLast(bound - written)
    }

    /// The uncompressed length declared in the header of a compressed block.
    ///
    /// - Throws: ``SnappyError/Kind-swift.enum/corruptInput`` if the header cannot be read.
    public static func uncompressedLength(_ input: [UInt8]) throws(SnappyError) -> Int {
        var length = 0
        let status: snappy_status = input.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return SNAPPY_INVALID_INPUT }
            return snappy_uncompressed_length(base.assumingMemoryBound(to: CChar.self), raw.count, &length)
        }
        guard status == SNAPPY_OK else {
            throw SnappyError(kind: .corruptInput, detail: "unreadable length header")
        }
        return length
    }

    /// Decompresses one Snappy block.
    ///
    /// The declared length in the block's header is checked against `maxLength` *before*
    /// anything is allocated, so a hostile or corrupt header cannot make us reserve gigabytes.
    ///
    /// - Parameters:
    ///   - input: A complete Snappy block.
    ///   - maxLength: The largest uncompressed size accepted (default 64 MiB).
    /// - Throws: ``SnappyError`` of kind `.corruptInput` for malformed input (including an
    ///   empty array) or `.tooLarge` when the declared length exceeds `maxLength`.
    public static func decompress(_ input: [UInt8], maxLength: Int = 64 << 20) throws(SnappyError) -> [UInt8] {
        let length = try uncompressedLength(input)
        guard length <= maxLength else {
            throw SnappyError(kind: .tooLarge, detail: "declared length \(length) exceeds the limit of \(maxLength) bytes")
        }
        var status = SNAPPY_OK
        let output: [UInt8] = input.withUnsafeBytes { raw in
            // uncompressedLength succeeded, so the input is not empty.
            let source = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
            guard length > 0 else {
                status = snappy_validate_compressed_buffer(source, raw.count)
                return []
            }
            return [UInt8](unsafeUninitializedCapacity: length) { out, initialized in
                var produced = length
                let dest = UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self)
                status = snappy_uncompress(source, raw.count, dest, &produced)
                if status == SNAPPY_OK && produced != length { status = SNAPPY_INVALID_INPUT }
                initialized = status == SNAPPY_OK ? length : 0
            }
        }
        guard status == SNAPPY_OK else {
            throw SnappyError(kind: .corruptInput, detail: "invalid block (snappy status \(status.rawValue))")
        }
        return output
    }
}

/// Why a Snappy block could not be decompressed.
public struct SnappyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The category of failure.
    public enum Kind: Sendable, Equatable {
        /// The block is malformed or truncated.
        case corruptInput
        /// The block declares an uncompressed length above the caller's limit.
        case tooLarge
    }

    /// The category of failure.
    public var kind: Kind
    /// A human-readable explanation.
    public var detail: String

    /// Creates an error.
    public init(kind: Kind, detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// `"snappy: <detail>"`.
    public var description: String { "snappy: \(detail)" }
}
