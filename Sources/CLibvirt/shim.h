#include <stddef.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/// Error callback that drops libvirt's default printing to stderr; errors are read with virGetLastError.
static void torpor_virt_silent_error(void *userData, virErrorPtr error) { (void)userData; (void)error; }

/// Installs the silent error callback (Swift cannot pass a C function defined in a header as a pointer easily).
static inline void torpor_virt_silence_errors(void) { virSetErrorFunc(NULL, torpor_virt_silent_error); }
