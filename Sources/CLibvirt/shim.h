#include <stddef.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/// Error callback that drops libvirt's default printing to stderr; errors are read with virGetLastError.
static void torpor_virt_silent_error(void *userData, virErrorPtr error) { (void)userData; (void)error; }

/// Installs the silent error callback (Swift cannot pass a C function defined in a header as a pointer easily).
static inline void torpor_virt_silence_errors(void) { virSetErrorFunc(NULL, torpor_virt_silent_error); }

/// Registers a lifecycle-event callback for every domain of the connection (the VIR_DOMAIN_EVENT_CALLBACK cast is a
/// macro Swift cannot use).
static inline int torpor_virt_register_lifecycle(virConnectPtr conn, virConnectDomainEventCallback callback, void *opaque,
                                                 virFreeCallback free_opaque) {
    return virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(callback), opaque,
                                            free_opaque);
}
