import CLibvirt
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A connection to one libvirt host (`virConnectOpen`), closed when released (`virConnectClose`).
public final class VirtConnection {
    let handle: virConnectPtr
    /// The URI the connection was opened with.
    public let uri: String

    /// How a connection notices a host that stopped answering: after `interval` seconds without traffic it sends a
    /// keepalive message, and after `count` unanswered ones in a row it closes the connection, so that a call waiting on
    /// that host fails with libvirt's error instead of hanging the run (`virConnectSetKeepAlive`).
    public struct KeepAlive: Sendable {
        public var interval: Int32
        public var count: UInt32
        public init(interval: Int32, count: UInt32) { self.interval = interval; self.count = count }
        /// 5 s × 5: a host gone silent is given up within about half a minute (virsh's own default is 5 s × 6).
        /// libvirtd answers keepalives from its event loop, so a long save or restore never trips it.
        public static let standard = KeepAlive(interval: 5, count: 5)
    }

    /// Opens `uri` read-write, e.g. `qemu:///system`, `qemu+ssh://host/system`, or `test:///path/node.xml`; a connection
    /// through libvirt's remote protocol (every `qemu://` one, local or not) keeps `keepAlive`. Drivers that run inside
    /// this process (`test://`) have no peer to lose and none.
    public init(uri: String, keepAlive: KeepAlive = .standard) throws(VirtError) {
        _ = silenceLibvirtErrors
        _ = VirtEventLoop.started
        self.uri = uri
        if let why = Self.refusal(of: uri) { throw VirtError(code: -1, message: why, operation: "virConnectOpen(\(uri))") }
        handle = try checked("virConnectOpen(\(uri))", virConnectOpen(uri))
        // -1 where the driver has no keepalive (in-process drivers), 1 where the daemon does not speak it: the
        // connection still works, as before keepalive existed.
        if virConnectSetKeepAlive(handle, keepAlive.interval, keepAlive.count) < 0 { virResetLastError() }
    }

    /// Opens `uri` as `init` does, giving up after `seconds`: libvirt's open has no timeout of its own, and a host that
    /// is down (a TCP connect waits minutes) or a daemon that accepts but never answers would hold the caller forever.
    /// The open goes on after the caller gave up, one per URI however often it is asked for: the next `open` of the URI
    /// waits on it rather than starting another (no thread or socket piles up behind a host that never answers), and
    /// takes its connection if it came late (a host that answers in 35 s is reached on the second try). 30 s by
    /// default: longer than an ssh handshake to a loaded host, far shorter than a TCP connect to one that is down.
    public static func open(uri: String, keepAlive: KeepAlive = .standard, within seconds: Double = 30) throws(VirtError) -> VirtConnection {
        let attempt = PendingOpen.for(uri: uri) { VirtConnection.opened(uri: uri, keepAlive: keepAlive) }
        guard attempt.finished.wait(timeout: .now() + seconds) == .success else {
            attempt.givenUp()
            throw VirtError(code: VirtError.noAnswerCode, message: "no answer within \(Int(seconds)) s (host down, unreachable, or its libvirtd stuck)",
                            operation: "virConnectOpen(\(uri))")
        }
        PendingOpen.taken(attempt, uri: uri)
        return try attempt.result!.get()
    }

    /// Why `uri` is never opened, nil when it may be: a URI that makes libvirt run a program here or on the host (the
    /// `ext` transport's `command`; over ssh, `netcat` or `socket`, which go into a remote shell command, where a local
    /// transport's `socket` is a path only; an embedded driver's `/embed`, which runs what its folder's domains name) or
    /// hands ssh an option for a host. Read as libvirt reads it: transports in any case, parameters split on `&` and `;`,
    /// names decoded; one that cannot be read is refused. A guard in depth, not a boundary: whoever may write the store
    /// may name its hosts (pipelines/README).
    public static func refusal(of uri: String) -> String? {
        guard let parts = URLComponents(string: uri) else { return "refused: not a URI torpor can read" }
        let transport = parts.scheme?.split(separator: "+").dropFirst().first?.lowercased()
        if transport == "ext" { return "refused: the ext transport runs the program its URI names" }
        if parts.path.lowercased().hasPrefix("/embed") { return "refused: an embedded driver (/embed) runs the programs its folder's domains name" }
        let names = (parts.percentEncodedQuery ?? "").split(whereSeparator: { $0 == "&" || $0 == ";" })
            .map { ($0.split(separator: "=", maxSplits: 1).first.map(String.init) ?? "").removingPercentEncoding?.lowercased() ?? "?" }
        let overSSH = ["ssh", "libssh", "libssh2"].contains(transport ?? "")   // a socket's path goes into the remote shell command
        if let named = names.first(where: { ["command", "netcat", "?"].contains($0) || overSSH && $0 == "socket" }) {
            return "refused: the URI parameter \(named) names a command or a path libvirt would put in one"
        }
        if parts.host?.hasPrefix("-") == true || parts.user?.hasPrefix("-") == true { return "refused: a host or user that starts with '-' would be an option to ssh" }
        return nil
    }

    private static func opened(uri: String, keepAlive: KeepAlive) -> Result<VirtConnection, VirtError> {
        do throws(VirtError) { return .success(try VirtConnection(uri: uri, keepAlive: keepAlive)) } catch { return .failure(error) }
    }

    deinit { virConnectClose(handle) }

    /// Whether the connection still reaches its host (`virConnectIsAlive`): false once the daemon restarted, the link
    /// dropped or keepalive gave the host up. A closed connection never comes back: open a new one.
    public var isAlive: Bool { virConnectIsAlive(handle) == 1 }

    /// The host name libvirt reports for this host (`virConnectGetHostname`).
    public func hostname() throws(VirtError) -> String {
        let name = try checked("virConnectGetHostname(\(uri))", virConnectGetHostname(handle))
        defer { free(name) }
        return String(cString: name)
    }

    /// Who the host is, as libvirt tells it (`HostIdentity`); nil when libvirt gives no host UUID (the test driver) or
    /// cannot say.
    public func identity() -> HostIdentity? {
        guard let name = try? hostname(), let driver = virConnectGetType(handle), let resolved = virConnectGetURI(handle) else {
            virResetLastError()
            return nil
        }
        defer { free(resolved) }
        guard let xml = virConnectGetCapabilities(handle) else {
            virResetLastError()
            return nil
        }
        defer { free(xml) }
        // The path of the URI libvirt resolved (an alias from uri_aliases, or the default URI, reads as what it stands for).
        let scope = String(cString: driver) + " " + (URLComponents(string: String(cString: resolved))?.path ?? "")
        return HostIdentity.fromCapabilities(String(cString: xml)).map { HostIdentity(hostname: name, uuid: $0, scope: scope) }
    }

    /// Every domain of the host, running or not (`virConnectListAllDomains`), sorted by name; `flags`: libvirt's
    /// filters (`VIR_CONNECT_LIST_DOMAINS_*`), none by default.
    public func domains(flags: UInt32 = 0) throws(VirtError) -> [VirtDomain] {
        var list: UnsafeMutablePointer<virDomainPtr?>?
        let count = try checked("virConnectListAllDomains(\(uri))", virConnectListAllDomains(handle, &list, flags))
        defer { free(list) }
        return (0..<Int(count)).compactMap { list?[$0] }.map { VirtDomain(handle: $0, connection: self) }
            .sorted { $0.name < $1.name }
    }

    /// The names of the host's domains shut off with a managed-save image, asleep with their memory
    /// (`virConnectListAllDomains` filtered by libvirt: `VIR_CONNECT_LIST_DOMAINS_SHUTOFF | _MANAGEDSAVE`), sorted.
    public func savedDomainNames() throws(VirtError) -> [String] {
        try domains(flags: VIR_CONNECT_LIST_DOMAINS_SHUTOFF.rawValue | VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE.rawValue).map(\.name)
    }

    /// The domain called `name` (`virDomainLookupByName`).
    public func domain(named name: String) throws(VirtError) -> VirtDomain {
        let handle = try checked("virDomainLookupByName(\(uri), \(name))", virDomainLookupByName(self.handle, name))
        return VirtDomain(handle: handle, connection: self)
    }

    /// Starts a transient domain from its XML description (`virDomainCreateXML`); it disappears when it stops.
    public func createTransient(xml: String) throws(VirtError) -> VirtDomain {
        let handle = try checked("virDomainCreateXML(\(uri))", virDomainCreateXML(self.handle, xml, 0))
        return VirtDomain(handle: handle, connection: self)
    }

    /// Defines a persistent domain from its XML description (`virDomainDefineXML`), not started.
    public func define(xml: String) throws(VirtError) -> VirtDomain {
        let handle = try checked("virDomainDefineXML(\(uri))", virDomainDefineXML(self.handle, xml))
        return VirtDomain(handle: handle, connection: self)
    }

    /// The domain definition a saved state file holds (`virDomainSaveImageGetXMLDesc`): what a restore from it runs with,
    /// a device plugged into the running domain before the save included.
    public func savedImageXMLDescription(path: String) throws(VirtError) -> String {
        let xml = try checked("virDomainSaveImageGetXMLDesc(\(uri), \(path))", virDomainSaveImageGetXMLDesc(handle, path, 0))
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Starts a domain from a saved state file (`virDomainRestore`), e.g. an image rebuilt from the state pool.
    public func restore(from path: String) throws(VirtError) {
        try checked("virDomainRestore(\(uri), \(path))", virDomainRestore(handle, path))
    }

    /// The host's free memory in bytes (`virNodeGetFreeMemory`).
    public func freeMemoryBytes() throws(VirtError) -> UInt64 {
        let bytes = virNodeGetFreeMemory(handle)
        if bytes == 0, virGetLastError() != nil { throw VirtError.last("virNodeGetFreeMemory(\(uri))") }
        return bytes
    }

    /// Statistics of every domain in one call (`virConnectGetAllDomainStats`), those it can read without waiting
    /// (`NOWAIT`): a domain another libvirt call holds (a save, a query stuck on its QEMU) gives what it can without its
    /// monitor, instead of holding the whole call, and every host read after it, for that call's wait.
    public func allDomainStats(_ groups: DomainStatsGroups = .standard) throws(VirtError) -> [DomainStatsRecord] {
        var records: UnsafeMutablePointer<virDomainStatsRecordPtr?>?
        let count = try checked("virConnectGetAllDomainStats(\(uri))",
                                virConnectGetAllDomainStats(handle, groups.rawValue, &records, UInt32(VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT.rawValue)))
        defer { virDomainStatsRecordListFree(records) }
        return (0..<Int(count)).compactMap { records?[$0]?.pointee }.map(DomainStatsRecord.init)
    }
}

/// Who a host is, as libvirt tells it: its name (`virConnectGetHostname`) and its host UUID (the `<host><uuid>` of
/// `virConnectGetCapabilities`: the machine's SMBIOS UUID, or the daemon's `host_uuid` setting), with which of its
/// drivers and instances a URI reaches (`scope`: the driver, `virConnectGetType`, and the path of the URI libvirt
/// resolved: `qemu:///session` is not `qemu:///system`, nor `lxc:///system`; two users' sessions read the same). Two URIs through which all are the same reach one host's same domains: the
/// name alone is not enough (hosts called `localhost`), nor the UUID alone (boards that share a placeholder SMBIOS UUID).
public struct HostIdentity: Hashable, Sendable, CustomStringConvertible {
    public var hostname: String
    public var uuid: String
    public var scope: String

    public init(hostname: String, uuid: String, scope: String) { self.hostname = hostname; self.uuid = uuid; self.scope = scope }

    public var description: String { "host \(hostname), host UUID \(uuid), \(scope)" }

    /// The host UUID in a capabilities document: the `<uuid>` in `<host>` (its first child), nil when it has none.
    static func fromCapabilities(_ xml: String) -> String? {
        guard let host = xml.range(of: "<host>"), let end = xml.range(of: "</host>", range: host.upperBound..<xml.endIndex),
              let open = xml.range(of: "<uuid>", range: host.upperBound..<end.lowerBound),
              let close = xml.range(of: "</uuid>", range: open.upperBound..<end.lowerBound) else { return nil }
        let uuid = xml[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        return uuid.isEmpty ? nil : uuid
    }
}

/// Which groups of statistics `allDomainStats` asks for (`VIR_DOMAIN_STATS_*`).
public struct DomainStatsGroups: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let state = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_STATE.rawValue)
    public static let cpuTotal = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_CPU_TOTAL.rawValue)
    public static let balloon = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_BALLOON.rawValue)
    public static let vcpu = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_VCPU.rawValue)
    public static let interface = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_INTERFACE.rawValue)
    public static let block = DomainStatsGroups(rawValue: VIR_DOMAIN_STATS_BLOCK.rawValue)
    /// What demand collection needs: state, CPU time, vCPUs, memory balloon, network and block I/O.
    public static let standard: DomainStatsGroups = [.state, .cpuTotal, .balloon, .vcpu, .interface, .block]
}

/// One domain's statistics: typed parameters such as `cpu.time`, `balloon.current`, `net.0.rx.bytes`.
public struct DomainStatsRecord {
    public let domainName: String
    /// The domain's UUID (empty if libvirt cannot say).
    public let domainUUID: String
    /// The running domain's ID (`virDomainGetID`), new at each start: nil for a domain not running.
    public let domainID: UInt32?
    public let values: [String: TypedValue]

    /// A record as libvirt gives one: what a collection makes of a domain's statistics can be checked without a host.
    public init(domainName: String, domainUUID: String, domainID: UInt32? = nil, values: [String: TypedValue]) {
        self.domainName = domainName; self.domainUUID = domainUUID; self.domainID = domainID; self.values = values
    }

    init(_ record: virDomainStatsRecord) {
        domainName = record.dom.flatMap { virDomainGetName($0) }.map { String(cString: $0) } ?? ""
        domainUUID = record.dom.map(VirtDomain.uuid(of:)) ?? ""
        domainID = record.dom.map { virDomainGetID($0) }.flatMap { $0 == UInt32.max ? nil : $0 }
        var values: [String: TypedValue] = [:]
        for i in 0..<Int(record.nparams) {
            let param = record.params[i]
            values[typedParameterField(param)] = TypedValue(param)
        }
        self.values = values
    }

    /// A numeric parameter as a Double, whatever its integer or floating type.
    public func number(_ field: String) -> Double? { values[field]?.number }
}

/// The value of a libvirt typed parameter (`virTypedParameter`).
public enum TypedValue: Equatable, Sendable {
    case int(Int64), uint(UInt64), double(Double), bool(Bool), string(String)

    init(_ param: virTypedParameter) {
        switch Int32(param.type) {
        case Int32(VIR_TYPED_PARAM_INT.rawValue): self = .int(Int64(param.value.i))
        case Int32(VIR_TYPED_PARAM_UINT.rawValue): self = .uint(UInt64(param.value.ui))
        case Int32(VIR_TYPED_PARAM_LLONG.rawValue): self = .int(param.value.l)
        case Int32(VIR_TYPED_PARAM_ULLONG.rawValue): self = .uint(param.value.ul)
        case Int32(VIR_TYPED_PARAM_DOUBLE.rawValue): self = .double(param.value.d)
        case Int32(VIR_TYPED_PARAM_BOOLEAN.rawValue): self = .bool(param.value.b != 0)
        default: self = .string(param.value.s.map { String(cString: $0) } ?? "")
        }
    }

    public var number: Double? {
        switch self {
        case .int(let v): Double(v)
        case .uint(let v): Double(v)
        case .double(let v): v
        case .bool, .string: nil
        }
    }
}

private func typedParameterField(_ param: virTypedParameter) -> String {
    withUnsafeBytes(of: param.field) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// libvirt connections may be used from several threads at once (libvirt's thread-safety guarantee for
/// `virConnectPtr` and the objects obtained from it); the executor runs restores in parallel on one connection.
extension VirtConnection: @unchecked Sendable {}

/// An open that runs on a thread of its own, shared by every caller of `VirtConnection.open` for its URI until one
/// takes its result.
private final class PendingOpen: @unchecked Sendable {
    /// Entered while the open runs: every caller waits on it, each with its own timeout.
    let finished = DispatchGroup()
    /// Set before `finished` is left.
    var result: Result<VirtConnection, VirtError>?
    /// Whether a caller stopped waiting for it (its result, when it comes, is late).
    private var abandoned = false

    /// A caller stopped waiting.
    func givenUp() { Self.lock.withLock { abandoned = true } }

    /// Late and no longer worth handing over: a failure from long ago (the host may be back) or a connection that has
    /// closed since. Called under `lock`.
    private var stale: Bool {
        guard abandoned, finished.wait(timeout: .now()) == .success else { return false }
        if case .success(let connection) = result { return !connection.isAlive }
        return true
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var byURI: [String: PendingOpen] = [:]

    /// The open of `uri` still running or not yet taken, else a new one started with `body`.
    static func `for`(uri: String, _ body: @escaping @Sendable () -> Result<VirtConnection, VirtError>) -> PendingOpen {
        lock.withLock {
            if let pending = byURI[uri], !pending.stale { return pending }
            let attempt = PendingOpen()
            attempt.finished.enter()
            byURI[uri] = attempt
            Thread.detachNewThread {
                attempt.result = body()
                attempt.finished.leave()
            }
            return attempt
        }
    }

    /// A finished open's result is taken: the next open of the URI starts afresh.
    static func taken(_ attempt: PendingOpen, uri: String) {
        lock.withLock { if byURI[uri] === attempt { byURI[uri] = nil } }
    }
}
