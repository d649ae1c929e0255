import CLibvirt
import Glibc

/// A libvirt failure: the error libvirt recorded (`virGetLastError`), with what torpor was doing and where.
public struct VirtError: Error, CustomStringConvertible, Sendable {
    /// libvirt's `virErrorNumber` (e.g. `VIR_ERR_NO_DOMAIN` = 42), or -1 when libvirt recorded none.
    public let code: Int32
    public let message: String
    /// What torpor called, e.g. `virConnectOpen(test:///default)`.
    public let operation: String

    /// One line, the same each time the same failure recurs: QEMU's stderr, which libvirt passes on, has several lines,
    /// each after a timestamp of its own (a journal entry, an event or a `check` line each; `check` tells a failure
    /// that reads the same as the one it has already told).
    public var description: String {
        "\(operation): " + message.split(whereSeparator: \.isWhitespace).filter { !Self.isTimestamp($0) }.joined(separator: " ")
    }

    /// Whether a word is a timestamp such as QEMU puts before each of its lines, `2026-12-04T18:56:56.128896Z`.
    static func isTimestamp(_ word: Substring) -> Bool {
        word.count >= 20 && word.hasSuffix("Z") && word.dropFirst(10).first == "T" && word.allSatisfy { $0.isNumber || "-:.TZ".contains($0) }
    }

    /// Whether libvirt says the domain does not exist.
    public var isNoDomain: Bool { code == Int32(VIR_ERR_NO_DOMAIN.rawValue) }

    /// Whether the driver does not offer the call (the test driver's job queries, say).
    public var isUnsupported: Bool { code == Int32(VIR_ERR_NO_SUPPORT.rawValue) }

    /// torpor's own code for a host that did not answer in time (`VirtConnection.open(uri:within:)`); not libvirt's.
    static let noAnswerCode: Int32 = -2

    /// Whether the host did not answer in time, as opposed to refusing.
    public var isNoAnswer: Bool { code == Self.noAnswerCode }

    /// Reads and clears libvirt's last error of this thread.
    static func last(_ operation: String) -> VirtError {
        guard let error = virGetLastError() else {
            return VirtError(code: -1, message: "libvirt reported a failure without an error message", operation: operation)
        }
        defer { virResetLastError() }
        let message = error.pointee.message.map { String(cString: $0) } ?? "error \(error.pointee.code)"
        return VirtError(code: error.pointee.code, message: message, operation: operation)
    }
}

/// Every libvirt call that signals failure with a negative return goes through here.
@discardableResult
func checked(_ operation: @autoclosure () -> String, _ result: Int32) throws(VirtError) -> Int32 {
    if result < 0 { throw VirtError.last(operation()) }
    return result
}

/// Every libvirt call that signals failure with a null pointer goes through here.
func checked<T>(_ operation: @autoclosure () -> String, _ result: T?) throws(VirtError) -> T {
    guard let result else { throw VirtError.last(operation()) }
    return result
}

/// libvirt prints errors to stderr by default; torpor reports them itself. A write to a connection whose peer went away
/// (libvirtd restarted, a stream's other end closed) would raise SIGPIPE and end the process where libvirt does not
/// suppress it: as libvirt asks of its clients, SIGPIPE is ignored, and the write fails with an error torpor reports.
let silenceLibvirtErrors: Void = {
    torpor_virt_silence_errors()
    signal(SIGPIPE, SIG_IGN)
    _ = virInitialize()
}()
