//! Secrets are wiped before the memory that held them is freed.
//!
//! This test binary's global allocator looks into every block that is freed
//! (or moved by a reallocation) while it is armed, for markers planted in a
//! client secret, a private key and a token response. Real exchanges then
//! run against a loopback server that sends its answers in pieces, so the
//! response buffer has to grow. What this covers is every copy tokenclient
//! makes. Blocks that libcurl and OpenSSL allocate themselves (the request
//! as sent, the response as received) do not pass through this allocator;
//! OpenSSL keeps private key material in its own clearing allocator.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use tokenclient::{Algorithm, AuthMethod, Client};
use zeroize::Zeroizing;

struct Scanning;

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

static ARMED: AtomicBool = AtomicBool::new(false);
/// TOKENCLIENT_WIPE_TRACE=1: print where each such block was freed.
static TRACE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set while a hit is printed (which allocates): no scan inside.
    static TRACING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
static FOUND: AtomicUsize = AtomicUsize::new(0);
/// What to look for: (pointer, length) of byte strings that stay alive
/// while the scan is armed.
static MARKERS: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

impl Scanning {
    /// Counts the markers in a block about to be freed.
    ///
    /// # Safety
    /// `ptr` must be valid for reads of `size` bytes.
    unsafe fn scan(&self, ptr: *const u8, size: usize) {
        if !ARMED.load(Ordering::Acquire) || TRACING.with(|t| t.get()) {
            return;
        }
        // try_lock: the allocator may be entered while the lock is held
        // (by this thread, to set the markers up); such blocks are skipped.
        let Ok(markers) = MARKERS.try_lock() else {
            return;
        };
        let block = std::slice::from_raw_parts(ptr, size);
        for &(p, n) in markers.iter() {
            let marker = std::slice::from_raw_parts(p as *const u8, n);
            if block.windows(n).any(|w| w == marker) {
                FOUND.fetch_add(1, Ordering::SeqCst);
                if TRACE.load(Ordering::Relaxed) && !TRACING.with(|t| t.replace(true)) {
                    let marker = String::from_utf8_lossy(marker).into_owned();
                    eprintln!(
                        "freed with {marker:?}:\n{}",
                        std::backtrace::Backtrace::force_capture()
                    );
                    TRACING.with(|t| t.set(false));
                }
            }
        }
    }
}

unsafe impl GlobalAlloc for Scanning {
    /// Zeroed, so that a block never carries bytes left in memory that
    /// something else freed (libcurl and OpenSSL free their own copies of
    /// a request and a response without wiping them): whatever the scan
    /// finds in a block was written there through this allocator.
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.scan(ptr, layout.size());
        System.dealloc(ptr, layout)
    }

    /// Always a move, so that whatever a reallocation leaves behind is
    /// scanned even where the system allocator would have grown in place.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = System.alloc_zeroed(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

/// Scans for `markers` while `f` runs; returns how many freed blocks held
/// one.
fn freed_with(markers: &[&[u8]], f: impl FnOnce()) -> usize {
    *MARKERS.lock().unwrap() = markers
        .iter()
        .map(|m| (m.as_ptr() as usize, m.len()))
        .collect();
    FOUND.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::Release);
    f();
    ARMED.store(false, Ordering::Release);
    MARKERS.lock().unwrap().clear();
    FOUND.load(Ordering::SeqCst)
}

const ACCESS: &[u8] = b"TOKENMARKER-ACCESS";
const REFRESH: &[u8] = b"TOKENMARKER-REFRESH";
/// In the JSON as `esc\/aped-TOKENMARKER-ID`: the parser unescapes it into
/// a buffer of its own.
const ID: &[u8] = b"TOKENMARKER-ID";
const SECRET: &str = "SECRETMARKER-7f3a9c1e5b2d4086-0123456789";

/// A token response long enough to arrive in pieces, with every string a
/// secret.
fn token_body() -> Vec<u8> {
    format!(
        r#"{{"access_token":"at-TOKENMARKER-ACCESS-{pad}","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-TOKENMARKER-REFRESH","id_token":"esc\/aped-TOKENMARKER-ID","scope":"read"}}"#,
        pad = "p".repeat(6000)
    )
    .into_bytes()
}

/// Reads one request into `buf`, which is not on the heap: a request body
/// holds the client secret, and a heap copy of it freed here would count.
fn read_request(stream: &mut TcpStream, buf: &mut [u8]) -> bool {
    let mut len = 0;
    loop {
        match stream.read(&mut buf[len..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => len += n,
        }
        if common::request_complete(&buf[..len]) {
            return true;
        }
    }
}

/// A keep-alive token endpoint that answers every request with `status`
/// and `body`, written in three pieces a few milliseconds apart. Everything it holds
/// is prepared before the scan is armed and lives until the process ends.
fn server(status: &str, body: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let head: &'static [u8] = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes()
    .leak();
    thread::spawn(move || {
        let buf: &'static mut [u8] = vec![0u8; 1 << 16].leak();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            while read_request(&mut stream, buf) {
                let third = body.len() / 3;
                let pieces = [
                    head,
                    &body[..third],
                    &body[third..2 * third],
                    &body[2 * third..],
                ];
                for piece in pieces {
                    if stream.write_all(piece).is_err() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(3));
                }
            }
        }
    });
    url
}

fn check_token(c: &Client) {
    let t = c.client_credentials(Some("read")).unwrap();
    assert!(t.access_token().starts_with("at-TOKENMARKER-ACCESS-"));
    assert_eq!(t.refresh_token(), Some("rt-TOKENMARKER-REFRESH"));
    assert_eq!(t.id_token(), Some("esc/aped-TOKENMARKER-ID"));
}

#[test]
fn secrets_are_wiped_before_their_memory_is_freed() {
    // The suite-wide secret scan records secrets into JSON lines that it
    // frees unwiped (test builds only): off for this process.
    std::env::remove_var("TOKENCLIENT_AUDIT_DIR");
    TRACE.store(
        std::env::var_os("TOKENCLIENT_WIPE_TRACE").is_some(),
        Ordering::Relaxed,
    );

    // The scanner finds a marker in a freed block.
    let probe: &[u8] = b"PROBE-MARKER-1234";
    let found = freed_with(&[probe], || drop(probe.to_vec()));
    assert_eq!(found, 1, "the scanning allocator does not see freed blocks");

    let body: &'static [u8] = token_body().leak();
    let url = server("200 OK", body);

    // A client secret (client_secret_post: the secret goes into the form)
    // and a token response that arrives in pieces.
    let secret = SECRET.as_bytes();
    let found = freed_with(&[secret, ACCESS, REFRESH, ID], || {
        let c = Client::new(&url, "wipe-test").unwrap();
        c.set_proxy(Some("")).unwrap();
        c.set_client_secret(SECRET, AuthMethod::ClientSecretPost)
            .unwrap();
        for _ in 0..3 {
            check_token(&c);
        }
        // client_secret_basic: the secret goes into an Authorization header.
        c.set_client_secret(SECRET, AuthMethod::ClientSecretBasic)
            .unwrap();
        check_token(&c);
        // client_secret_jwt: the secret is an HMAC key.
        c.set_client_secret(SECRET, AuthMethod::ClientSecretJwt)
            .unwrap();
        check_token(&c);
        drop(c);
    });
    assert_eq!(found, 0, "{found} freed blocks held a secret or a token");

    // Grants that send secrets of their own, and the token cache (which
    // keeps a refresh token and rotates it).
    let seed: &[u8] = b"RTSEED-MARKER-5d1c";
    let code: &[u8] = b"CODEMARKER-a81f";
    let verifier: &[u8] = b"VERIFIERMARKER-0123456789-0123456789-0123456789";
    let found = freed_with(&[secret, seed, code, verifier, ACCESS, REFRESH, ID], || {
        let c = Client::new(&url, "wipe-test").unwrap();
        c.set_proxy(Some("")).unwrap();
        c.set_client_secret(SECRET, AuthMethod::ClientSecretPost)
            .unwrap();
        let text = |b: &[u8]| std::str::from_utf8(b).unwrap().to_string();
        let (seed, code, verifier) = (text(seed), text(code), text(verifier));
        let t = c.refresh(&seed, Some("read")).unwrap();
        assert_eq!(t.refresh_token(), Some("rt-TOKENMARKER-REFRESH"));
        drop(t);
        c.exchange_code(&code, "https://app.example/cb", Some(&verifier))
            .unwrap();
        c.set_refresh_token(Some(&seed)).unwrap();
        for _ in 0..2 {
            let t = c.get_token(Some("read")).unwrap();
            assert!(t.access_token().starts_with("at-TOKENMARKER-ACCESS-"));
            c.invalidate_token(Some("read"));
        }
        c.set_refresh_token(None).unwrap();
        drop(c);
        for s in [seed, code, verifier] {
            Zeroizing::new(s); // the test's own copies, wiped
        }
    });
    assert_eq!(
        found, 0,
        "{found} freed blocks held a grant's secret or a token"
    );

    // An error answer that echoes the secret: it is redacted from the
    // message, and the copies made to find it are wiped.
    let echo: &'static [u8] = format!(
        r#"{{"error":"invalid_client","error_description":"no client with secret {SECRET} here"}}"#
    )
    .into_bytes()
    .leak();
    let error_url = server("401 Unauthorized", echo);
    let found = freed_with(&[secret], || {
        let c = Client::new(&error_url, "wipe-test").unwrap();
        c.set_proxy(Some("")).unwrap();
        for method in [AuthMethod::ClientSecretPost, AuthMethod::ClientSecretBasic] {
            c.set_client_secret(SECRET, method).unwrap();
            let e = c.client_credentials(None).unwrap_err();
            assert!(e.to_string().contains("[redacted]"), "{e}");
            assert!(!e.to_string().contains(SECRET), "{e}");
        }
        drop(c);
    });
    assert_eq!(
        found, 0,
        "{found} freed blocks held the secret after an error answer"
    );

    // A long secret: its SHA-256 digest is the HMAC key.
    let long = format!("{SECRET}-{}", "s".repeat(100));
    let digest = openssl::sha::sha256(long.as_bytes());
    let found = freed_with(&[long.as_bytes(), &digest], || {
        let c = Client::new(&url, "wipe-test").unwrap();
        c.set_proxy(Some("")).unwrap();
        c.set_client_secret(&long, AuthMethod::ClientSecretJwt)
            .unwrap();
        check_token(&c);
        drop(c);
    });
    assert_eq!(
        found, 0,
        "{found} freed blocks held a long secret or its digest"
    );

    // A private key in each form the library reads: the key's text and its
    // private scalar.
    let key = EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
    let scalar = key.private_key().to_vec();
    let (x, y) = {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let mut ctx = openssl::bn::BigNumContext::new().unwrap();
        let (mut x, mut y) = (
            openssl::bn::BigNum::new().unwrap(),
            openssl::bn::BigNum::new().unwrap(),
        );
        key.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        (x.to_vec_padded(32).unwrap(), y.to_vec_padded(32).unwrap())
    };
    let pkey = PKey::from_ec_key(key).unwrap();
    let pem = String::from_utf8(pkey.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let der_b64 = STANDARD.encode(pkey.private_key_to_pkcs8().unwrap());
    let d = URL_SAFE_NO_PAD.encode(&scalar);
    let forms = [
        pem.clone(),
        pem.replace('\n', "\\n"), // one line, as an environment variable holds it
        der_b64.clone(),
        format!(
            r#"{{"kty":"EC","crv":"P-256","d":"{d}","x":"{}","y":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(&x),
            URL_SAFE_NO_PAD.encode(&y)
        ),
    ];
    // The DER's start and the scalar's text, as they appear in each form.
    let der_text = &der_b64.as_bytes()[..48];
    for form in &forms {
        let found = freed_with(&[&scalar, der_text, d.as_bytes(), ACCESS], || {
            let c = Client::new(&url, "wipe-test").unwrap();
            c.set_proxy(Some("")).unwrap();
            c.set_private_key(form, Some("k1"), Some(Algorithm::ES256))
                .unwrap();
            check_token(&c);
            drop(c);
        });
        assert_eq!(
            found, 0,
            "{found} freed blocks held the private key or a token ({:.20})",
            form
        );
    }
}
