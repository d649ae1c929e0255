import CLibvirt
import Foundation

/// A domain lifecycle event (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`).
public struct DomainLifecycleEvent: Sendable, Equatable {
    /// `virDomainEventType`.
    public enum Kind: Int32, Sendable {
        case defined = 0, undefined = 1, started = 2, suspended = 3, resumed = 4, stopped = 5, shutdown = 6, pmSuspended = 7, crashed = 8
    }

    public let domain: String
    public let kind: Kind?
    /// The event type's detail (`virDomainEventStoppedDetailType`, ...).
    public let detail: Int32
}

/// libvirt's default event loop, registered before the first connection opens and run on its own thread: domain
/// events and the keepalive of remote connections need it (`virEventRegisterDefaultImpl`, `virEventRunDefaultImpl`).
enum VirtEventLoop {
    static let started: Void = {
        _ = virEventRegisterDefaultImpl()
        let thread = Thread {
            while true { _ = virEventRunDefaultImpl() }
        }
        thread.name = "libvirt event loop"
        thread.start()
    }()
}

/// A registered lifecycle-event callback; deregistered (`virConnectDomainEventDeregisterAny`) when released.
public final class VirtEventSubscription {
    /// The connection it listens on.
    public let connection: VirtConnection
    let callbackID: Int32

    init(connection: VirtConnection, callbackID: Int32) {
        self.connection = connection
        self.callbackID = callbackID
    }

    /// On a connection that has closed meanwhile, deregistering fails harmlessly: the error is not left behind.
    deinit { if virConnectDomainEventDeregisterAny(connection.handle, callbackID) < 0 { virResetLastError() } }
}

/// The Swift handler behind a C callback's opaque pointer.
private final class LifecycleHandler {
    let body: @Sendable (DomainLifecycleEvent) -> Void
    init(_ body: @escaping @Sendable (DomainLifecycleEvent) -> Void) { self.body = body }
}

extension VirtConnection {
    /// Calls `handler` (on libvirt's event thread) for every lifecycle event of any domain of this host
    /// (`virConnectDomainEventRegisterAny`) until the subscription is released.
    public func onLifecycleEvent(_ handler: @escaping @Sendable (DomainLifecycleEvent) -> Void) throws(VirtError) -> VirtEventSubscription {
        let opaque = Unmanaged.passRetained(LifecycleHandler(handler)).toOpaque()
        let callback: virConnectDomainEventCallback = { _, domain, event, detail, opaque in
            guard let opaque else { return 0 }
            let name = domain.flatMap { virDomainGetName($0) }.map { String(cString: $0) } ?? ""
            Unmanaged<LifecycleHandler>.fromOpaque(opaque).takeUnretainedValue()
                .body(DomainLifecycleEvent(domain: name, kind: DomainLifecycleEvent.Kind(rawValue: event), detail: detail))
            return 0
        }
        let release: virFreeCallback = { opaque in
            if let opaque { Unmanaged<LifecycleHandler>.fromOpaque(opaque).release() }
        }
        let id = torpor_virt_register_lifecycle(handle, callback, opaque, release)
        guard id >= 0 else {
            Unmanaged<LifecycleHandler>.fromOpaque(opaque).release()
            throw VirtError.last("virConnectDomainEventRegisterAny(\(uri), lifecycle)")
        }
        return VirtEventSubscription(connection: self, callbackID: id)
    }
}
