import CCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A streaming SHA-256 digest over OpenSSL's EVP interface (`EVP_DigestInit_ex`, `EVP_DigestUpdate`, `EVP_DigestFinal_ex`).
public final class SHA256 {
    private let context: OpaquePointer

    public init() {
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The 32-byte digest; the object must not be used afterwards.
    public func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest
    }

    /// The digest as 64 lower-case hex digits; the object must not be used afterwards.
    public func finalizeHex() -> String { SHA256.hex(finalize()) }

    /// The SHA-256 of one buffer.
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let hash = SHA256()
        hash.update(bytes)
        return hash.finalize()
    }

    /// Lower-case hex of any bytes.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The SHA-256 of a whole file's raw bytes, read in 1 MiB chunks.
    /// The SHA-256 of `bytes` as lowercase hex.
    public static func hexDigest(of bytes: some ContiguousBytes) -> String { hex(bytes.withUnsafeBytes { digest($0) }) }

    public static func hexDigest(ofFile path: String) throws(HashError) -> String {
        guard let file = fopen(path, "rb") else {
            throw HashError(path: path, message: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        let hash = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = fread(buffer.baseAddress, 1, buffer.count, file)
            if n > 0 { hash.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
            if n < buffer.count {
                if ferror(file) != 0 { throw HashError(path: path, message: "read error: \(String(cString: strerror(errno)))") }
                break
            }
        }
        return hash.finalizeHex()
    }
}

public struct HashError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
