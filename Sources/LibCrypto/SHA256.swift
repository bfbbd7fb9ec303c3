import CLibCrypto

/// SHA-256 (FIPS 180-4) by OpenSSL's libcrypto. Pure functions, safe from any thread.
public enum SHA256 {
    /// The digest's length in bytes.
    public static let byteCount = 32

    /// The SHA-256 digest of `bytes`.
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: byteCount)
        let done: Bool? = bytes.withContiguousStorageIfAvailable { input in
            digest.withUnsafeMutableBufferPointer { out in
                EVP_Digest(input.baseAddress, input.count, out.baseAddress, nil, EVP_sha256(), nil) == 1
            }
        }
        if done == nil {
            let copy = Array(bytes)
            return hash(copy)
        }
        precondition(done == true, "libcrypto's SHA-256 failed")
        return digest
    }
}

/// HMAC (RFC 2104) with SHA-256 by OpenSSL's libcrypto. Pure functions, safe from any thread.
public enum HMACSHA256 {
    /// The authentication code of `message` under `key`.
    public static func authenticationCode(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8] {
        let key = Array(key)
        let message = Array(message)
        var code = [UInt8](repeating: 0, count: SHA256.byteCount)
        var length: UInt32 = 0
        let result = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                code.withUnsafeMutableBufferPointer { out in
                    // A zero-length key still needs a non-null pointer for libcrypto.
                    HMAC(EVP_sha256(), k.baseAddress ?? UnsafePointer(out.baseAddress!), Int32(k.count),
                         m.baseAddress, m.count, out.baseAddress, &length)
                }
            }
        }
        precondition(result != nil && length == UInt32(SHA256.byteCount), "libcrypto's HMAC-SHA-256 failed")
        return code
    }
}

extension Collection<UInt8> {
    /// Lowercase hexadecimal, two digits a byte.
    public var lowercaseHex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
