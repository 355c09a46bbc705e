//! TLS against the real test server: a throwaway CA and certificates made
//! here, verification always on, a wrong host refused, mTLS where required.

mod common;

use std::path::{Path, PathBuf};

use common::{Server, TempDir};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509NameBuilder, X509};
use tokenclient::{AuthMethod, Client, ErrorKind};

fn key() -> PKey<Private> {
    PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap()
}

/// A certificate for `cn`, signed by `issuer` (self-signed when `None`).
fn cert(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    ca: bool,
    dns: &[&str],
    client: bool,
) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(rand_u32())
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&*name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
    } else {
        let mut san = SubjectAlternativeName::new();
        for d in dns {
            san.dns(d);
        }
        let ctx = b.x509v3_context(issuer.map(|(c, _)| &**c), None);
        let san = san.build(&ctx).unwrap();
        b.append_extension(san).unwrap();
        let mut eku = ExtendedKeyUsage::new();
        if client {
            eku.client_auth();
        } else {
            eku.server_auth();
        }
        b.append_extension(eku.build().unwrap()).unwrap();
    }
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    b.build()
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    openssl::rand::rand_bytes(&mut b).unwrap();
    u32::from_le_bytes(b) >> 1
}

struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = TempDir::new("pki");
        let ca_key = key();
        let ca = cert("tokenclient test CA", &ca_key, None, true, &[], false);
        let other_key = key();
        let other_ca = cert("some other CA", &other_key, None, true, &[], false);
        let server_key = key();
        let server = cert(
            "localhost",
            &server_key,
            Some((&ca, &ca_key)),
            false,
            &["localhost"],
            false,
        );
        let client_key = key();
        let client = cert(
            "tokenclient test client",
            &client_key,
            Some((&ca, &ca_key)),
            false,
            &[],
            true,
        );
        let write = |name: &str, pem: Vec<u8>| std::fs::write(dir.0.join(name), pem).unwrap();
        write("ca.pem", ca.to_pem().unwrap());
        write("other-ca.pem", other_ca.to_pem().unwrap());
        write("server.pem", server.to_pem().unwrap());
        write(
            "server-key.pem",
            server_key.private_key_to_pem_pkcs8().unwrap(),
        );
        write("client.pem", client.to_pem().unwrap());
        write(
            "client-key.pem",
            client_key.private_key_to_pem_pkcs8().unwrap(),
        );
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.0.join(name).to_str().unwrap().to_string()
    }
}

fn https_server(pki: &Pki, mtls: bool) -> Server {
    let (cert, key, ca) = (
        pki.path("server.pem"),
        pki.path("server-key.pem"),
        pki.path("ca.pem"),
    );
    let mut args = vec!["--https-cert", cert.as_str(), "--https-key", key.as_str()];
    if mtls {
        args.extend(["--client-ca", ca.as_str()]);
    }
    Server::start(&args)
}

fn basic_client(server: &Server, token_url: &str) -> Client {
    let m = server.client("basic-client");
    let c = Client::new(token_url, m["client_id"].as_str().unwrap()).unwrap();
    c.set_client_secret(
        m["client_secret"].as_str().unwrap(),
        AuthMethod::ClientSecretBasic,
    )
    .unwrap();
    c.set_timeouts_ms(5000, 10000).unwrap();
    c
}

#[test]
fn https_verification() {
    if !common::server_can_run() {
        return;
    }
    let pki = Pki::new();
    let server = https_server(&pki, false);
    let url = server.manifest["token_url"].as_str().unwrap().to_string();
    assert!(url.starts_with("https://localhost:"), "{url}");

    // The right CA: works.
    let c = basic_client(&server, &url);
    c.set_ca_file(Some(&pki.path("ca.pem"))).unwrap();
    assert!(c.client_credentials(Some("read")).is_ok());

    // No CA (the system's store does not know ours): refused.
    let c = basic_client(&server, &url);
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");

    // Another CA: refused.
    let c = basic_client(&server, &url);
    c.set_ca_file(Some(&pki.path("other-ca.pem"))).unwrap();
    assert_eq!(
        c.client_credentials(None).unwrap_err().kind(),
        ErrorKind::Transport
    );

    // The right CA but the wrong host name (127.0.0.1 is not in the certificate): refused.
    let wrong_host = url.replace("localhost", "127.0.0.1");
    let c = basic_client(&server, &wrong_host);
    c.set_ca_file(Some(&pki.path("ca.pem"))).unwrap();
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
}

#[test]
fn mutual_tls() {
    if !common::server_can_run() {
        return;
    }
    let pki = Pki::new();
    let server = https_server(&pki, true);
    let url = server.manifest["token_url"].as_str().unwrap().to_string();

    let c = basic_client(&server, &url);
    c.set_ca_file(Some(&pki.path("ca.pem"))).unwrap();
    let e = c.client_credentials(None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "no client certificate: {e}");

    c.set_client_cert(Some((&pki.path("client.pem"), &pki.path("client-key.pem"))))
        .unwrap();
    assert!(c.client_credentials(Some("read")).is_ok());

    let missing: PathBuf = Path::new(&pki.path("nope.pem")).to_path_buf();
    let e = c
        .set_client_cert(Some((
            missing.to_str().unwrap(),
            &pki.path("client-key.pem"),
        )))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}
