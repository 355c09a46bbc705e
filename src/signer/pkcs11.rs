//! A private key inside a PKCS#11 token (an HSM, SoftHSM2, a smart card),
//! named by an RFC 7512 URI, used through the `cryptoki` crate: the key
//! never leaves the token; the library sends it what to sign.
//!
//! `pkcs11:token=app;object=client-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234`
//!
//! Path attributes (`;`-separated, percent-encoded): `token`, `object`,
//! `id`, `serial`, `manufacturer`, `model`, `slot-id`, `type` (`private`
//! or absent). Query attributes (`&`-separated): `module-path` (required),
//! `pin-value` or `pin-source` (`file:` a path whose first line is the PIN).
//!
//! Processes: the module is opened once per process and path; a forked
//! child opens and initializes it anew on its first signature (PKCS#11
//! sessions do not survive `fork()`) and never uses or closes the
//! parent's. Threads: sessions are pooled, one per concurrent signature. A
//! failed signature drops its session; one that says the session, token
//! or module is gone (`CKR_SESSION_HANDLE_INVALID`, `CKR_DEVICE_REMOVED`,
//! `CKR_TOKEN_NOT_PRESENT`, `CKR_CRYPTOKI_NOT_INITIALIZED`, ...) makes the
//! next signature open the module, log in and find the key again.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, KeyType as CkKeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use once_cell::sync::Lazy;
use openssl::pkey::{PKey, Public};
use zeroize::Zeroizing;

use super::Signer;
use crate::error::{Error, Result};
use crate::keys::{Algorithm, Curve, Hash, KeyType};
use crate::transport::PerProcess;

/// What a URI names.
#[derive(Default)]
struct Uri {
    token: Option<String>,
    object: Option<String>,
    id: Option<Vec<u8>>,
    serial: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    slot_id: Option<u64>,
    module_path: Option<PathBuf>,
    pin: Option<Zeroizing<String>>,
}

/// Whether `text` is a PKCS#11 URI (what `set_private_key` hands here).
pub(crate) fn is_uri(text: &str) -> bool {
    text.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("pkcs11:"))
}

fn bad_uri(detail: impl std::fmt::Display) -> Error {
    Error::invalid_argument(format!("the PKCS#11 URI is malformed: {detail}"))
}

/// Percent-decoding (RFC 3986 §2.1).
fn decode(value: &str) -> Result<Zeroizing<Vec<u8>>> {
    let bytes = value.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad_uri("a % is not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn text(name: &str, value: &str) -> Result<String> {
    String::from_utf8(decode(value)?.to_vec()).map_err(|_| bad_uri(format!("{name} is not UTF-8")))
}

fn parse_uri(uri: &str) -> Result<Uri> {
    if uri.len() > 8192 || uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad_uri("it is longer than 8192 bytes or has whitespace"));
    }
    let rest = &uri[7..];
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut out = Uri::default();
    for attr in path.split(';').filter(|a| !a.is_empty()) {
        let (name, value) = attr
            .split_once('=')
            .ok_or_else(|| bad_uri(format!("the path attribute {:?} has no value", shown(attr))))?;
        match name {
            "token" => out.token = Some(text(name, value)?),
            "object" => out.object = Some(text(name, value)?),
            "id" => out.id = Some(decode(value)?.to_vec()),
            "serial" => out.serial = Some(text(name, value)?),
            "manufacturer" => out.manufacturer = Some(text(name, value)?),
            "model" => out.model = Some(text(name, value)?),
            "slot-id" => {
                out.slot_id = Some(
                    text(name, value)?
                        .parse()
                        .map_err(|_| bad_uri("slot-id is not a number"))?,
                )
            }
            "type" if value == "private" => {}
            "type" => return Err(bad_uri("type must be private: the key signs")),
            // RFC 7512 §2.3: unknown path attributes make the URI refer to
            // nothing this library can find.
            other => {
                return Err(bad_uri(format!(
                    "unknown path attribute {:?}",
                    shown(other)
                )))
            }
        }
    }
    for attr in query.split('&').filter(|a| !a.is_empty()) {
        let (name, value) = attr.split_once('=').unwrap_or((attr, ""));
        match name {
            "module-path" => out.module_path = Some(PathBuf::from(text(name, value)?)),
            "pin-value" => {
                let pin = Zeroizing::new(text(name, value)?);
                crate::audit::secret(&pin);
                out.pin = Some(pin);
            }
            "pin-source" => {
                let source = text(name, value)?;
                let path = source
                    .strip_prefix("file:")
                    .ok_or_else(|| bad_uri("pin-source must be a file: URI"))?;
                let path = path.strip_prefix("//").unwrap_or(path);
                let content = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                    Error::config(format!("the PIN file {path:?} cannot be read: {e}"))
                })?);
                let pin = Zeroizing::new(content.lines().next().unwrap_or("").to_string());
                crate::audit::secret(&pin);
                out.pin = Some(pin);
            }
            // Other query attributes (module-name, vendor ones) are not
            // supported: refused rather than ignored, and not named in the
            // message (a mistyped one may be, or hold, the PIN).
            _ => {
                return Err(bad_uri(
                    "it has a query attribute other than module-path, pin-value and pin-source",
                ))
            }
        }
    }
    if out.module_path.is_none() {
        return Err(bad_uri(
            "it names no module-path (the PKCS#11 module, e.g. ...?module-path=/usr/lib/softhsm/libsofthsm2.so)",
        ));
    }
    if out.object.is_none() && out.id.is_none() {
        return Err(bad_uri("it names no key: give object= (the label) or id="));
    }
    Ok(out)
}

fn shown(value: &str) -> String {
    crate::keys::shown(value)
}

/// The module of each path, opened (and initialized) once per process.
static MODULES: Lazy<PerProcess<Mutex<HashMap<PathBuf, Pkcs11>>>> = Lazy::new(PerProcess::default);

fn module(path: &PathBuf) -> Result<Pkcs11> {
    let modules = MODULES.get();
    let mut map = modules.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(m) = map.get(path) {
        return Ok(m.clone());
    }
    let m = Pkcs11::new(path)
        .map_err(|e| Error::config(format!("the PKCS#11 module {path:?} cannot be loaded: {e}")))?;
    match m.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Another user of the module in this process initialized it.
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(ck("the PKCS#11 module could not be initialized", e)),
    }
    map.insert(path.clone(), m.clone());
    Ok(m)
}

/// A PKCS#11 error as a `Key` error, with the module's return value
/// (never a PIN: none is ever formatted).
fn ck(what: &str, e: CkError) -> Error {
    Error::key(format!("{what}: {e}"))
}

/// Whether an error means the session, token or module is gone, so the
/// next signature must start over.
fn gone(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::CryptokiNotInitialized
                | RvError::UserNotLoggedIn
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid,
            _
        )
    )
}

/// What this process has open for the key.
struct Live {
    module: Pkcs11,
    slot: Slot,
    key: ObjectHandle,
    idle: Vec<Session>,
    /// Which opening this is: a session of an earlier one (taken before a
    /// failure closed it) is never given back to this one.
    generation: u64,
}

/// Numbers the openings of every key.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// A private key in a PKCS#11 token.
pub(crate) struct Pkcs11Key {
    uri: Uri,
    /// The algorithm it signs with.
    alg: Algorithm,
    key_type: KeyType,
    /// What this process has open; `None` until the first use in a
    /// process, and after a failure that closed it.
    live: PerProcess<Mutex<Option<Live>>>,
}

impl Pkcs11Key {
    /// Opens the key `uri` names (module, token, login, key), checks it,
    /// and picks its algorithm (`alg`, else the key's default). Errors:
    /// `InvalidArgument` for a malformed URI; `Config` for a module that
    /// cannot be loaded or a PIN file that cannot be read; `Key` for
    /// everything the module refuses, no such token or key, several
    /// matches, or a key that does not fit `alg`.
    pub(crate) fn open(uri: &str, alg: Option<Algorithm>) -> Result<(Pkcs11Key, Algorithm)> {
        let uri = parse_uri(uri)?;
        let live = open_live(&uri)?;
        let key_type = key_type(&live)?;
        let alg = alg.unwrap_or_else(|| key_type.default_algorithm());
        key_type.require(alg)?;
        let key = Pkcs11Key {
            uri,
            alg,
            key_type,
            live: PerProcess::default(),
        };
        *key.live
            .get()
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(live);
        Ok((key, alg))
    }

    /// A session of this process's, opened (with the module, the login
    /// and the key) if none is idle, and the opening it belongs to.
    fn session(&self) -> Result<(Session, ObjectHandle, u64)> {
        let mut live = self
            .live
            .get()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if live.is_none() {
            *live = Some(open_live(&self.uri)?);
        }
        let l = live.as_mut().expect("just set");
        let session = match l.idle.pop() {
            Some(s) => s,
            None => match open_session(&l.module, l.slot, &self.uri) {
                Ok(s) => s,
                Err(e) => {
                    // The token or module may be gone: start over next time.
                    *live = None;
                    return Err(e);
                }
            },
        };
        Ok((session, l.key, l.generation))
    }

    fn give_back(&self, session: Session, generation: u64) {
        let mut live = self
            .live
            .get()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = live.as_mut().filter(|l| l.generation == generation) {
            if l.idle.len() < 16 {
                l.idle.push(session);
            }
        }
    }

    /// Drops the opening `generation` after `e` (unless another thread
    /// already replaced it), so that the next signature starts over; a
    /// module that was finalized (reset) is initialized again then.
    fn forget(&self, e: &CkError, generation: u64) {
        {
            let mut live = self
                .live
                .get()
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if live.as_ref().is_some_and(|l| l.generation == generation) {
                *live = None;
            }
        }
        if matches!(e, CkError::Pkcs11(RvError::CryptokiNotInitialized, _)) {
            let path = self.uri.module_path.as_ref().expect("checked when parsed");
            MODULES
                .get()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(path);
        }
    }
}

impl std::fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("token", &self.uri.token)
            .field("object", &self.uri.object)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Signer for Pkcs11Key {
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>> {
        let (session, key, generation) = self.session()?;
        let pss;
        let (mechanism, data): (Mechanism<'_>, Zeroizing<Vec<u8>>) = match self.alg {
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
                let hash = self.alg.hash().expect("ECDSA hashes");
                (Mechanism::Ecdsa, digest(hash, input))
            }
            Algorithm::EdDSA => (
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                Zeroizing::new(input.to_vec()),
            ),
            Algorithm::RS256 => (Mechanism::Sha256RsaPkcs, Zeroizing::new(input.to_vec())),
            Algorithm::RS384 => (Mechanism::Sha384RsaPkcs, Zeroizing::new(input.to_vec())),
            Algorithm::RS512 => (Mechanism::Sha512RsaPkcs, Zeroizing::new(input.to_vec())),
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => {
                let (hash_alg, mgf, s_len, mech): (
                    _,
                    _,
                    u64,
                    fn(PkcsPssParams) -> Mechanism<'static>,
                ) = match self.alg {
                    Algorithm::PS256 => (
                        MechanismType::SHA256,
                        PkcsMgfType::MGF1_SHA256,
                        32,
                        Mechanism::Sha256RsaPkcsPss,
                    ),
                    Algorithm::PS384 => (
                        MechanismType::SHA384,
                        PkcsMgfType::MGF1_SHA384,
                        48,
                        Mechanism::Sha384RsaPkcsPss,
                    ),
                    _ => (
                        MechanismType::SHA512,
                        PkcsMgfType::MGF1_SHA512,
                        64,
                        Mechanism::Sha512RsaPkcsPss,
                    ),
                };
                pss = PkcsPssParams {
                    hash_alg,
                    mgf,
                    s_len: s_len.into(),
                };
                (mech(pss), Zeroizing::new(input.to_vec()))
            }
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                return Err(Error::key("a PKCS#11 key does not sign HMAC"))
            }
        };
        match session.sign(&mechanism, key, &data) {
            Ok(signature) => {
                self.give_back(session, generation);
                Ok(signature)
            }
            Err(e) => {
                drop(session);
                if gone(&e) {
                    self.forget(&e, generation);
                }
                Err(ck("the PKCS#11 token did not sign", e))
            }
        }
    }
}

impl Pkcs11Key {
    /// The key's public half, from the token's public key object of the
    /// same label and id (for a DPoP key, whose proofs carry it).
    pub(crate) fn public_key(&self) -> Result<PKey<Public>> {
        let (session, _, generation) = self.session()?;
        let result = self.read_public(&session);
        self.give_back(session, generation);
        result
    }

    fn read_public(&self, session: &Session) -> Result<PKey<Public>> {
        let failed = |e| ck("the PKCS#11 public key could not be read", e);
        let mut template = vec![Attribute::Class(ObjectClass::PUBLIC_KEY)];
        if let Some(label) = &self.uri.object {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &self.uri.id {
            template.push(Attribute::Id(id.clone()));
        }
        let found = session.find_objects(&template).map_err(failed)?;
        let [object] = found.as_slice() else {
            return Err(Error::key(
                "the PKCS#11 token has no single public key of the URI's object= / id= (a DPoP \
                 proof names the public key)",
            ));
        };
        let attrs = session
            .get_attributes(
                *object,
                &[
                    AttributeType::KeyType,
                    AttributeType::EcParams,
                    AttributeType::EcPoint,
                    AttributeType::Modulus,
                    AttributeType::PublicExponent,
                ],
            )
            .map_err(failed)?;
        let get = |want: AttributeType| {
            attrs.iter().find_map(|a| {
                if a.attribute_type() != want {
                    return None;
                }
                match a {
                    Attribute::EcParams(v)
                    | Attribute::EcPoint(v)
                    | Attribute::Modulus(v)
                    | Attribute::PublicExponent(v) => Some(v.clone()),
                    _ => None,
                }
            })
        };
        let kind = attrs.iter().find_map(|a| match a {
            Attribute::KeyType(k) => Some(*k),
            _ => None,
        });
        let unusable = |_| Error::key("the PKCS#11 public key is malformed");
        match kind {
            Some(k) if k == CkKeyType::RSA => {
                let (Some(n), Some(e)) = (
                    get(AttributeType::Modulus),
                    get(AttributeType::PublicExponent),
                ) else {
                    return Err(Error::key(
                        "the PKCS#11 RSA public key has no modulus or exponent",
                    ));
                };
                let rsa = openssl::rsa::Rsa::from_public_components(
                    openssl::bn::BigNum::from_slice(&n).map_err(unusable)?,
                    openssl::bn::BigNum::from_slice(&e).map_err(unusable)?,
                )
                .map_err(unusable)?;
                PKey::from_rsa(rsa).map_err(unusable)
            }
            Some(k) if k == CkKeyType::EC || k == CkKeyType::EC_EDWARDS => {
                let point = get(AttributeType::EcPoint)
                    .ok_or_else(|| Error::key("the PKCS#11 EC public key has no EC point"))?;
                // A DER OCTET STRING around the point (some modules give it bare).
                let raw = match point.as_slice() {
                    [0x04, 0x81, _, rest @ ..] => rest.to_vec(),
                    [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => rest.to_vec(),
                    other => other.to_vec(),
                };
                if k == CkKeyType::EC_EDWARDS {
                    return PKey::public_key_from_raw_bytes(&raw, openssl::pkey::Id::ED25519)
                        .map_err(unusable);
                }
                let curve = match self.key_type {
                    KeyType::Ec(curve) => curve,
                    _ => {
                        return Err(Error::key(
                            "the PKCS#11 public key is not of the private key's type",
                        ))
                    }
                };
                let group = openssl::ec::EcGroup::from_curve_name(curve.nid()).map_err(unusable)?;
                let mut ctx = openssl::bn::BigNumContext::new().map_err(unusable)?;
                let point =
                    openssl::ec::EcPoint::from_bytes(&group, &raw, &mut ctx).map_err(unusable)?;
                let ec = openssl::ec::EcKey::from_public_key(&group, &point).map_err(unusable)?;
                PKey::from_ec_key(ec).map_err(unusable)
            }
            _ => Err(Error::key(
                "the PKCS#11 public key is not an EC, RSA or Ed25519 key",
            )),
        }
    }
}

fn digest(hash: Hash, input: &[u8]) -> Zeroizing<Vec<u8>> {
    use openssl::sha::{sha256, sha384, sha512};
    Zeroizing::new(match hash {
        Hash::Sha256 => sha256(input).to_vec(),
        Hash::Sha384 => sha384(input).to_vec(),
        Hash::Sha512 => sha512(input).to_vec(),
    })
}

/// Opens the module, finds the token, logs in, finds the key. A module
/// that was finalized since this process opened it is initialized again.
fn open_live(uri: &Uri) -> Result<Live> {
    let path = uri.module_path.as_ref().expect("checked when parsed");
    let mut module = module(path)?;
    let listed = |m: &Pkcs11| m.get_slots_with_token();
    let slots = match listed(&module) {
        Err(CkError::Pkcs11(RvError::CryptokiNotInitialized, _)) => {
            MODULES
                .get()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(path);
            module = self::module(path)?;
            listed(&module)
        }
        other => other,
    }
    .map_err(|e| ck("the PKCS#11 module could not list its tokens", e))?;
    let slot = find_slot(&module, uri, slots)?;
    let session = open_session(&module, slot, uri)?;
    let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
    if let Some(label) = &uri.object {
        template.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        template.push(Attribute::Id(id.clone()));
    }
    let found = session
        .find_objects(&template)
        .map_err(|e| ck("the PKCS#11 token could not be searched", e))?;
    let key = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(Error::key(
                "the PKCS#11 token has no private key that the URI names (object= / id=)",
            ))
        }
        many => {
            return Err(Error::key(format!(
                "{} private keys in the PKCS#11 token match the URI: name one (object= and id=)",
                many.len()
            )))
        }
    };
    Ok(Live {
        module,
        slot,
        key,
        idle: vec![session],
        generation: GENERATION.fetch_add(1, Ordering::Relaxed),
    })
}

fn find_slot(module: &Pkcs11, uri: &Uri, slots: Vec<Slot>) -> Result<Slot> {
    let mut matching = Vec::new();
    for slot in slots {
        if uri.slot_id.is_some_and(|id| slot.id() != id) {
            continue;
        }
        let info = module
            .get_token_info(slot)
            .map_err(|e| ck("the PKCS#11 module could not describe a token", e))?;
        // (MSRV 1.80: no Option::is_none_or.)
        let same = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w == have.trim_end())
        };
        if same(&uri.token, info.label())
            && same(&uri.serial, info.serial_number())
            && same(&uri.manufacturer, info.manufacturer_id())
            && same(&uri.model, info.model())
        {
            matching.push(slot);
        }
    }
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::key(
            "no PKCS#11 token matches the URI (token=, serial=, ...)",
        )),
        _ => Err(Error::key(
            "several PKCS#11 tokens match the URI: name one (token=, serial= or slot-id=)",
        )),
    }
}

fn open_session(module: &Pkcs11, slot: Slot, uri: &Uri) -> Result<Session> {
    let session = module
        .open_ro_session(slot)
        .map_err(|e| ck("the PKCS#11 token refused a session", e))?;
    if let Some(pin) = &uri.pin {
        let pin = AuthPin::new(pin.as_str().into());
        match session.login(UserType::User, Some(&pin)) {
            // The login is the application's, for all its sessions.
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(ck("the PKCS#11 login failed", e)),
        }
    }
    Ok(session)
}

/// The key's type and size, from its attributes.
fn key_type(live: &Live) -> Result<KeyType> {
    let session = live.idle.first().expect("opened with one");
    let failed = |e| ck("the PKCS#11 key's attributes could not be read", e);
    let attrs = session
        .get_attributes(live.key, &[AttributeType::KeyType])
        .map_err(failed)?;
    let kind = attrs.iter().find_map(|a| match a {
        Attribute::KeyType(k) => Some(*k),
        _ => None,
    });
    match kind {
        Some(k) if k == CkKeyType::EC => {
            let attrs = session
                .get_attributes(live.key, &[AttributeType::EcParams])
                .map_err(failed)?;
            let params = attrs.iter().find_map(|a| match a {
                Attribute::EcParams(p) => Some(p.clone()),
                _ => None,
            });
            // The named curve's OID, DER-encoded.
            const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
            const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
            const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
            match params.as_deref() {
                Some(P256) => Ok(KeyType::Ec(Curve::P256)),
                Some(P384) => Ok(KeyType::Ec(Curve::P384)),
                Some(P521) => Ok(KeyType::Ec(Curve::P521)),
                _ => Err(Error::key(
                    "the PKCS#11 key is on a curve other than P-256, P-384 and P-521",
                )),
            }
        }
        Some(k) if k == CkKeyType::RSA => {
            // A private key's modulus is public and readable even when the
            // key is sensitive.
            let info = session
                .get_attribute_info(live.key, &[AttributeType::Modulus])
                .map_err(failed)?;
            let bytes = match info.first() {
                Some(AttributeInfo::Available(len)) => *len,
                _ => return Err(Error::key("the PKCS#11 RSA key's modulus cannot be read")),
            };
            let bits = u32::try_from(bytes * 8).unwrap_or(u32::MAX);
            if bits < crate::keys::MIN_RSA_BITS {
                return Err(Error::key(format!(
                    "the PKCS#11 key is RSA-{bits}; at least RSA-{} is required",
                    crate::keys::MIN_RSA_BITS
                )));
            }
            Ok(KeyType::Rsa { bits })
        }
        Some(k) if k == CkKeyType::EC_EDWARDS => Ok(KeyType::Ed25519),
        _ => Err(Error::key(
            "the PKCS#11 key is not an EC, RSA or Ed25519 key",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        let u = parse_uri("pkcs11:token=my%20app;object=client-key;id=%01%02;type=private?module-path=/usr/lib/x.so&pin-value=12%2634").unwrap();
        assert_eq!(u.token.as_deref(), Some("my app"));
        assert_eq!(u.object.as_deref(), Some("client-key"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(u.module_path, Some(PathBuf::from("/usr/lib/x.so")));
        assert_eq!(u.pin.as_deref().map(String::as_str), Some("12&34"));
        for (bad, needle) in [
            ("pkcs11:object=k", "module-path"),
            ("pkcs11:token=t?module-path=/m.so", "names no key"),
            (
                "pkcs11:object=k;type=public?module-path=/m.so",
                "type must be private",
            ),
            (
                "pkcs11:object=k;color=red?module-path=/m.so",
                "unknown path attribute",
            ),
            (
                "pkcs11:object=k?module-path=/m.so&module-name=x",
                "query attribute other than",
            ),
            (
                "pkcs11:object=k?module-path=/m.so&pin-value=12&3456",
                "query attribute other than",
            ),
            ("pkcs11:object=%zz?module-path=/m.so", "two hex digits"),
            (
                "pkcs11:object=k?module-path=/m.so&pin-source=/etc/pin",
                "file: URI",
            ),
            ("pkcs11:object=a b?module-path=/m.so", "whitespace"),
            ("pkcs11:object?module-path=/m.so", "has no value"),
        ] {
            let e = parse_uri(bad).map(|_| ()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message().contains(needle), "{bad}: {e}");
        }
        let e = parse_uri("pkcs11:object=k?module-path=/m.so&pin-source=file:/nonexistent/pin")
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(is_uri("PKCS11:object=k") && !is_uri("-----BEGIN"));
    }
}
