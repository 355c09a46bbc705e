//! Test-only exports, compiled only with the `test-hooks` cargo feature:
//! never part of a shipped library nor of the header (cbindgen.toml
//! excludes them). The C, Python and Go suites call them by name from
//! target/hooks/release/libtokenclient.so.

use super::boundary;
use super::error::tokenclient_error;

/// Panics inside the panic boundary, as a bug in the library would.
///
/// Returns the `TOKENCLIENT_ERROR_PANIC` error the boundary made of the
/// panic; the caller frees it with `tokenclient_error_free`.
#[no_mangle]
pub extern "C" fn tokenclient_test_panic() -> *mut tokenclient_error {
    boundary(|| panic!("tokenclient_test_panic was called"))
}
