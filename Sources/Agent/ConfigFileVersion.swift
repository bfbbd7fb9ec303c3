import AgentConfig
import Foundation
import Model

/// What the configuration file holds at one moment, as far as reloading cares: a 128-bit digest
/// of its bytes, or the fact that it could not be read.
///
/// The file is read through its path every time, so a Kubernetes ConfigMap update (a new
/// directory behind the `..data` symlink, swapped atomically) is seen like an edit in place;
/// modification times and inodes play no part, so rewriting the same bytes, or a swap to a
/// directory with the same content, is no change. As Prometheus's `GenerateChecksum`, the digest
/// covers the files `scrape_config_files` matches too (their paths and contents, in order): a
/// job file added, removed or edited is a change. (File SD and credential files are read by the
/// parts that use them.)
enum ConfigFileVersion: Hashable, Sendable {
    /// Two independent 64-bit hashes of the bytes (``ByteHash``, two seeds): not for security,
    /// and collisions between two versions of a file are negligible.
    case content(UInt64, UInt64)
    case unreadable

    /// Reads the file at `path` and digests it. Blocking file I/O: call it on a
    /// `BlockingIOPool`, never on the cooperative pool.
    static func read(file path: String, expandEnvironment: Bool = false) -> ConfigFileVersion {
        guard var data = FileManager.default.contents(atPath: path) else { return .unreadable }
        for included in ConfigLoader.includedFiles(ofConfigAt: path, expandEnvironment: expandEnvironment) {
            data.append(contentsOf: Array("s\u{0}\(included)\u{0}".utf8))
            data.append(FileManager.default.contents(atPath: included) ?? Data())
            data.append(0)
        }
        return of(data)
    }

    /// The version of `bytes`.
    static func of(_ bytes: some ContiguousBytes) -> ConfigFileVersion {
        bytes.withUnsafeBytes { raw in
            .content(ByteHash.hash64(raw), ByteHash.hash64(raw, seed: 0x243F_6A88_85A3_08D3))
        }
    }
}
