//! A real `redis-server` (the Debian package) for the token store's tests.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// A redis-server of the test's own on a loopback port, in a temporary
/// directory, without persistence; killed when dropped.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: TempDir,
    args: Vec<String>,
    /// TLS: the CA that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
}

pub fn redis_server() -> Option<String> {
    let found = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(str::to_string);
    if found.is_none() {
        assert!(
            std::env::var_os("TOKENCLIENT_REQUIRE_SERVER").is_none(),
            "redis-server is not installed (the Debian package redis-server)"
        );
        eprintln!("skipped: redis-server is not installed");
    }
    found
}

impl Redis {
    pub fn start(extra: &[&str]) -> Option<Redis> {
        redis_server()?;
        let port = free_port();
        let mut r = Redis {
            child: None,
            port,
            dir: TempDir::new("redis"),
            args: extra.iter().map(|s| s.to_string()).collect(),
            ca_file: None,
        };
        r.restart();
        Some(r)
    }

    pub fn restart(&mut self) {
        let bin = redis_server().unwrap();
        let child = Command::new(bin)
            .args(if self.ca_file.is_some() {
                vec!["--port", "0", "--tls-port"]
            } else {
                vec!["--port"]
            })
            .args([&self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--dir"])
            .arg(&self.dir.0)
            .args(&self.args)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0?prefix=test:", self.port)
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Redis {
    /// A redis-server that speaks only TLS (a certificate for 127.0.0.1
    /// from a CA of its own, made with the openssl command) and asks for
    /// `password`.
    pub fn start_tls(password: &str) -> Option<Redis> {
        redis_server()?;
        let dir = TempDir::new("redis-tls");
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir.0)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        std::fs::write(
            dir.0.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        for args in [
            "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
             -days 2 -subj /CN=tokenclient-test-redis-CA",
            "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
             -out server.csr -subj /CN=127.0.0.1",
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
             -days 2 -extfile ext.cnf",
        ] {
            openssl(&args.split_whitespace().collect::<Vec<_>>());
        }
        let file = |name: &str| dir.0.join(name).display().to_string();
        let args = [
            "--tls-cert-file".to_string(),
            file("server.pem"),
            "--tls-key-file".to_string(),
            file("server.key"),
            "--tls-ca-cert-file".to_string(),
            file("ca.pem"),
            "--tls-auth-clients".to_string(),
            "no".to_string(),
            "--requirepass".to_string(),
            password.to_string(),
        ];
        let port = free_port();
        let mut r = Redis {
            child: None,
            port,
            ca_file: Some(dir.0.join("ca.pem")),
            dir,
            args: args.to_vec(),
        };
        r.restart();
        Some(r)
    }

    /// The URL of a TLS server, with its password.
    pub fn tls_url(&self, password: &str) -> String {
        format!("rediss://:{password}@127.0.0.1:{}/0?prefix=tls:", self.port)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
