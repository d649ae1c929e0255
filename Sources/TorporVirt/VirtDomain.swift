import CLibvirt
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A libvirt domain handle, released with `virDomainFree`. Keeps its connection alive.
public final class VirtDomain {
    let handle: virDomainPtr
    let connection: VirtConnection
    /// The domain's name (`virDomainGetName`).
    public let name: String
    /// The domain's UUID (`virDomainGetUUIDString`): what tells two domains of one name on two hosts apart, and stays
    /// with a domain a migration moves.
    public let uuid: String

    init(handle: virDomainPtr, connection: VirtConnection) {
        self.handle = handle
        self.connection = connection
        name = virDomainGetName(handle).map { String(cString: $0) } ?? ""
        uuid = Self.uuid(of: handle)
    }

    /// `virDomainGetUUIDString` of a domain handle; empty if libvirt cannot say.
    static func uuid(of handle: virDomainPtr) -> String {
        var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        guard virDomainGetUUIDString(handle, &buffer) == 0 else { return "" }
        return String(cString: buffer)
    }

    deinit { virDomainFree(handle) }

    /// State, memory and vCPUs (`virDomainGetInfo`).
    public func info() throws(VirtError) -> DomainInfo {
        var info = virDomainInfo()
        try checked("virDomainGetInfo(\(name))", virDomainGetInfo(handle, &info))
        return DomainInfo(state: DomainState(rawValue: Int32(info.state)) ?? .unknown,
                          maxMemoryKiB: UInt64(info.maxMem), memoryKiB: UInt64(info.memory),
                          vcpus: Int(info.nrVirtCpu), cpuTimeNanoseconds: info.cpuTime)
    }

    /// Why a paused domain is paused (`virDomainGetState`'s reason); nil when it is not paused.
    public func pauseReason() throws(VirtError) -> PauseReason? {
        let (state, reason) = try stateAndReason()
        return state == Int32(VIR_DOMAIN_PAUSED.rawValue) ? PauseReason(code: reason) : nil
    }

    /// Why a running domain runs (`virDomainGetState`'s reason: booted, unpaused, restored...), as libvirt's number; nil
    /// when it is not running. Another reason later is a change of state between (a pause and a resume).
    public func runningReason() throws(VirtError) -> Int32? {
        let (state, reason) = try stateAndReason()
        return state == Int32(VIR_DOMAIN_RUNNING.rawValue) ? reason : nil
    }

    /// The domain's state and why it is in it (`virDomainGetState`), as libvirt's numbers.
    private func stateAndReason() throws(VirtError) -> (state: Int32, reason: Int32) {
        var state: Int32 = 0
        var reason: Int32 = 0
        try checked("virDomainGetState(\(name))", virDomainGetState(handle, &state, &reason, 0))
        return (state, reason)
    }

    /// Whether a running domain came to run by booting, not from saved memory (`virDomainGetState`'s reason is
    /// `VIR_DOMAIN_RUNNING_BOOTED`): what a managed-save image libvirt found gone or incomplete at `start` leaves. nil
    /// when it does not run, or when its driver cannot tell (the test driver calls every start a boot).
    public func bootedAfresh() throws(VirtError) -> Bool? {
        // QEMU's driver calls a start from a saved image RUNNING_RESTORED; the test driver calls every start a boot, and
        // others (libxl) a restore from a save too.
        guard connection.uri.hasPrefix("qemu") else { return nil }
        let (state, reason) = try stateAndReason()
        guard state == Int32(VIR_DOMAIN_RUNNING.rawValue) else { return nil }
        return reason == Int32(VIR_DOMAIN_RUNNING_BOOTED.rawValue)
    }

    /// Why QEMU's managed-save image at `path` would not bring a domain's memory back, if it would not: it is not there,
    /// or it is shorter than its header or its header is not a finished save's (a save that stopped: libvirt marks it
    /// partial until it ends). libvirt's `start` boots such a domain afresh instead of failing. nil too when the file
    /// cannot be read (no permission): libvirt may still read it.
    public static func unusableManagedSaveImage(at path: String) -> String? {
        access(path, F_OK) != 0 && errno == ENOENT ? "libvirt's saved image is not at \(path)" : incompleteManagedSaveImage(at: path)
    }

    /// Why the domain's managed-save image would not bring its memory back, if it would not, as libvirt reads it where
    /// its driver can (`managedSaveXMLDescription`, on the host's own file: gone, or its header not a finished save's;
    /// not the flag `hasManagedSaveImage` gives, which a file removed or cut behind libvirt's back does not change),
    /// else as the file at `localPath` reads (`unusableManagedSaveImage(at:)`; nil: unknown), which also words what
    /// libvirt refuses. When libvirt fails otherwise (its connection, its daemon), whether the image is whole is not
    /// known: said so, as a reason not to rely on it.
    public func unusableManagedSaveImage(localPath: String?) -> String? {
        let local = localPath.flatMap(Self.unusableManagedSaveImage(at:))
        do { _ = try managedSaveXMLDescription(); return nil } catch where error.isUnsupported { return local } catch {
            // libvirt's QEMU driver: no image (`VIR_ERR_OPERATION_INVALID`), or one it cannot use, incomplete or not a
            // save's (`VIR_ERR_OPERATION_FAILED`).
            let refused = [VIR_ERR_OPERATION_INVALID, VIR_ERR_OPERATION_FAILED].contains { error.code == Int32($0.rawValue) }
            return local ?? (refused ? "libvirt cannot use its saved image (\(error))" : "libvirt cannot say whether its saved image is whole (\(error))")
        }
    }

    /// Why the managed-save image at `path` is incomplete (a save that stopped: libvirt's header still says so; or cut
    /// inside its header), or nil when its header is a finished save's, or it cannot be read (gone, no permission).
    public static func incompleteManagedSaveImage(at path: String) -> String? {
        guard let file = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? file.close() }
        let header = (try? file.read(upToCount: Self.saveHeaderBytes)) ?? Data()
        guard header.count == Self.saveHeaderBytes, header.prefix(16) == Data("LibvirtQemudSave".utf8) else {
            return "libvirt's saved image at \(path) is incomplete (" + (header.prefix(16) == Data("LibvirtQemudPart".utf8)
                ? "a save that stopped" : "\(header.count < Self.saveHeaderBytes ? "\(header.count) bytes" : "not a finished save's header")") + ")"
        }
        return nil
    }

    /// The size of the header QEMU's driver writes first in a saved image (magic, version, lengths, flags, unused words).
    static let saveHeaderBytes = 16 + 5 * 4 + 15 * 4

    /// Starts the domain (`virDomainCreate`); with a managed-save image, libvirt restores it instead of booting.
    public func start() throws(VirtError) {
        try checked("virDomainCreate(\(name))", virDomainCreate(handle))
    }

    /// Pauses a running domain (`virDomainSuspend`).
    public func suspend() throws(VirtError) {
        try checked("virDomainSuspend(\(name))", virDomainSuspend(handle))
    }

    /// Resumes a paused domain (`virDomainResume`).
    public func resume() throws(VirtError) {
        try checked("virDomainResume(\(name))", virDomainResume(handle))
    }

    /// Saves memory and device state to libvirt's managed-save image and stops the domain (`virDomainManagedSave`).
    public func managedSave() throws(VirtError) {
        try checked("virDomainManagedSave(\(name))", virDomainManagedSave(handle, 0))
    }

    /// Whether libvirt holds a managed-save image of the domain (`virDomainHasManagedSaveImage`).
    public func hasManagedSaveImage() throws(VirtError) -> Bool {
        try checked("virDomainHasManagedSaveImage(\(name))", virDomainHasManagedSaveImage(handle, 0)) == 1
    }

    /// The definition the domain's managed-save image holds (`virDomainManagedSaveGetXMLDesc`): what its start restores
    /// with, a device plugged into the running domain before the save included (the domain's own definition no longer
    /// lists it once the domain is off). Fails when it has no such image, or the driver cannot say (the test driver).
    public func managedSaveXMLDescription() throws(VirtError) -> String {
        let xml = try checked("virDomainManagedSaveGetXMLDesc(\(name))", virDomainManagedSaveGetXMLDesc(handle, 0))
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Deletes libvirt's managed-save image (`virDomainManagedSaveRemove`).
    public func removeManagedSaveImage() throws(VirtError) {
        try checked("virDomainManagedSaveRemove(\(name))", virDomainManagedSaveRemove(handle, 0))
    }

    /// Removes a persistent domain's definition and its managed-save image (`virDomainUndefineFlags`).
    public func undefine() throws(VirtError) {
        try checked("virDomainUndefineFlags(\(name))", virDomainUndefineFlags(handle, UInt32(VIR_DOMAIN_UNDEFINE_MANAGED_SAVE.rawValue)))
    }

    /// Asks the guest to shut down (`virDomainShutdown`, ACPI power button or guest agent).
    public func shutdown() throws(VirtError) {
        try checked("virDomainShutdown(\(name))", virDomainShutdown(handle))
    }

    /// Whether the domain is off after a shutdown (`virDomainGetState`'s reason is `VIR_DOMAIN_SHUTOFF_SHUTDOWN`: its
    /// guest's, or a person's `virsh shutdown`), not for a save, a crash or a destroy.
    public func wasShutDown() throws(VirtError) -> Bool {
        let (state, reason) = try stateAndReason()
        return state == Int32(VIR_DOMAIN_SHUTOFF.rawValue) && reason == Int32(VIR_DOMAIN_SHUTOFF_SHUTDOWN.rawValue)
    }

    /// Stops the domain at once, like pulling the plug (`virDomainDestroy`).
    public func destroy() throws(VirtError) {
        try checked("virDomainDestroy(\(name))", virDomainDestroy(handle))
    }

    /// Whether the domain is defined persistently (`virDomainIsPersistent`); managed save needs a persistent domain.
    public func isPersistent() throws(VirtError) -> Bool {
        try checked("virDomainIsPersistent(\(name))", virDomainIsPersistent(handle)) == 1
    }

    /// The background job running on the domain, such as a save still in progress (`virDomainGetJobInfo`). libvirt
    /// reports jobs of running domains only: a domain that is not running, or no longer (a save that finished between
    /// two calls stops it), has none.
    public func job() throws(VirtError) -> DomainJob {
        var info = virDomainJobInfo()
        guard virDomainGetJobInfo(handle, &info) >= 0 else {
            let error = VirtError.last("virDomainGetJobInfo(\(name))")
            if virDomainIsActive(handle) == 0 { return DomainJob(active: false, elapsedMilliseconds: 0, processedBytes: 0, totalBytes: 0) }
            throw error
        }
        return DomainJob(active: info.type != Int32(VIR_DOMAIN_JOB_NONE.rawValue), elapsedMilliseconds: info.timeElapsed,
                         processedBytes: info.dataProcessed, totalBytes: info.dataTotal)
    }

    /// The domain's XML description (`virDomainGetXMLDesc`).
    public func xmlDescription() throws(VirtError) -> String {
        let xml = try checked("virDomainGetXMLDesc(\(name))", virDomainGetXMLDesc(handle, 0))
        defer { free(xml) }
        return String(cString: xml)
    }

    /// The text of a `<metadata>` element in namespace `namespaceURI` (`virDomainGetMetadata`), or nil if absent.
    public func metadata(namespaceURI: String) throws(VirtError) -> String? {
        guard let xml = virDomainGetMetadata(handle, Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue), namespaceURI, 0) else {
            let error = VirtError.last("virDomainGetMetadata(\(name), \(namespaceURI))")
            if error.code == Int32(VIR_ERR_NO_DOMAIN_METADATA.rawValue) { return nil }
            throw error
        }
        defer { free(xml) }
        return String(cString: xml)
    }
}

/// `virDomainState`.
public enum DomainState: Int32, Sendable {
    case unknown = 0, running = 1, blocked = 2, paused = 3, shuttingDown = 4, shutOff = 5, crashed = 6, suspended = 7

    /// Whether the guest runs (blocked: running, waiting on a resource).
    public var runs: Bool { self == .running || self == .blocked }
}

/// Why libvirt shows a domain paused (`virDomainPausedReason`).
public enum PauseReason: Equatable, Sendable, CustomStringConvertible {
    case unknown, user, migration, save, dump, ioError, watchdog, fromSnapshot, shuttingDown, snapshot, crashed, startingUp
    case postcopy, postcopyFailed, apiError
    /// A reason this libvirt's header does not name.
    case other(Int32)

    init(code: Int32) {
        let known: [PauseReason] = [.unknown, .user, .migration, .save, .dump, .ioError, .watchdog, .fromSnapshot, .shuttingDown, .snapshot,
                                    .crashed, .startingUp, .postcopy, .postcopyFailed, .apiError]
        self = known.indices.contains(Int(code)) ? known[Int(code)] : .other(code)
    }

    public var description: String {
        switch self {
        case .unknown: "for a reason libvirt does not know"
        case .user: "by request"
        case .migration: "for a migration"
        case .save: "for a save"
        case .dump: "for a core dump"
        case .ioError: "after a disk I/O error"
        case .watchdog: "by its watchdog"
        case .fromSnapshot: "after a snapshot was loaded"
        case .shuttingDown: "while shutting down"
        case .snapshot: "for a snapshot"
        case .crashed: "after the guest crashed"
        case .startingUp: "while starting"
        case .postcopy: "for a post-copy migration"
        case .postcopyFailed: "after a failed post-copy migration"
        case .apiError: "after a libvirt call failed"
        case .other(let code): "for reason \(code)"
        }
    }
}

/// A domain's background job (`virDomainJobInfo`).
public struct DomainJob: Equatable, Sendable {
    public let active: Bool
    public let elapsedMilliseconds: UInt64
    public let processedBytes: UInt64
    public let totalBytes: UInt64
}

public struct DomainInfo: Equatable, Sendable {
    public let state: DomainState
    public let maxMemoryKiB: UInt64
    public let memoryKiB: UInt64
    public let vcpus: Int
    public let cpuTimeNanoseconds: UInt64
}
