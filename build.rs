//! Regenerates include/tokenclient.h from the Rust sources with cbindgen.
//! The header is committed; CI fails when a build changes it.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=Cargo.toml");

    // The shared object's SONAME carries the major version, as `make install` lays it out.
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,-soname,libtokenclient.so.{}",
        env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo")
    );

    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let version = |name: &str| env::var(name).expect("set by cargo");
    config.header = Some(format!(
        "/*\n * tokenclient {v}: OAuth 2.0 / OpenID Connect tokens from C.\n *\n \
         * Conventions: every fallible function returns `tokenclient_error *`, NULL on\n \
         * success; the caller frees a non-NULL error with tokenclient_error_free.\n \
         * Out-parameters are written only on success. Strings returned as `char *`\n \
         * are freed with tokenclient_string_free; `const char *` results belong to\n \
         * the object they came from. Every *_free function accepts NULL.\n \
         * Strings passed in must be UTF-8 and NUL-terminated.\n */",
        v = version("CARGO_PKG_VERSION")
    ));
    config.after_includes = Some(format!(
        "\n#define TOKENCLIENT_VERSION_MAJOR {}\n#define TOKENCLIENT_VERSION_MINOR {}\n#define TOKENCLIENT_VERSION_PATCH {}\n",
        version("CARGO_PKG_VERSION_MAJOR"),
        version("CARGO_PKG_VERSION_MINOR"),
        version("CARGO_PKG_VERSION_PATCH"),
    ));

    let header = cbindgen::Builder::new()
        .with_crate(&root)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut text = Vec::new();
    header.write(&mut text);

    let path = root.join("include").join("tokenclient.h");
    // Write only on change, so the file's mtime moves only when it must.
    if fs::read(&path).ok().as_deref() != Some(text.as_slice()) {
        fs::create_dir_all(path.parent().expect("has a parent")).expect("include/ is writable");
        fs::write(&path, text).expect("include/tokenclient.h is writable");
    }
}
