//! The committed header: version macros match Cargo.toml, every exported
//! function is documented with its NULL rules, and every returned pointer
//! with its owner.

use std::collections::BTreeSet;

fn header() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/include/tokenclient.h"
    ))
    .unwrap()
}

#[test]
fn version_macros_match_cargo() {
    let h = header();
    for (name, value) in [
        ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        let line = format!("#define TOKENCLIENT_VERSION_{name} {value}\n");
        assert!(h.contains(&line), "missing {line:?}");
    }
    assert_eq!(tokenclient::VERSION, env!("CARGO_PKG_VERSION"));
}

/// (doc comment, declaration) of every function in the header.
fn functions(h: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut doc = String::new();
    let mut in_doc = false;
    for line in h.lines() {
        let t = line.trim();
        if t.starts_with("/**") {
            in_doc = true;
            doc.clear();
        }
        if in_doc {
            doc.push_str(t.trim_start_matches("/**").trim_start_matches('*'));
            doc.push(' ');
            if t.ends_with("*/") {
                in_doc = false;
            }
            continue;
        }
        if t.contains("tokenclient_")
            && t.contains('(')
            && t.ends_with(");")
            && !t.starts_with("typedef")
        {
            out.push((std::mem::take(&mut doc), t.to_string()));
        } else if !t.is_empty() {
            doc.clear();
        }
    }
    out
}

#[test]
fn every_function_is_documented() {
    let h = header();
    let fns = functions(&h);
    assert!(fns.len() >= 40, "found only {} functions", fns.len());
    let mut names = BTreeSet::new();
    for (doc, decl) in &fns {
        let name = decl
            .split('(')
            .next()
            .unwrap()
            .rsplit(['*', ' '])
            .next()
            .unwrap();
        assert!(name.starts_with("tokenclient_"), "{decl}");
        assert!(names.insert(name.to_string()), "{name} twice");
        assert!(!doc.trim().is_empty(), "{name} has no doc comment");
        let returns_pointer = decl.starts_with("const char *") || decl.starts_with("char *");
        let returns_error = decl.starts_with("tokenclient_error *");
        if name != "tokenclient_version" {
            assert!(
                doc.contains("NULL"),
                "{name}: the doc says nothing about NULL"
            );
        }
        if returns_pointer {
            assert!(
                doc.contains("belongs to") || doc.contains("static") || doc.contains("Ownership"),
                "{name}: the doc does not say who owns the returned string"
            );
        }
        if returns_error {
            assert!(
                doc.contains("Errors:") || doc.contains("errors as for"),
                "{name}: no Errors: section"
            );
        }
        if decl.contains("**") {
            assert!(
                doc.contains("Ownership"),
                "{name}: an out-parameter without its ownership"
            );
        }
    }
}

#[test]
fn every_name_has_the_prefix() {
    let h = header();
    for line in h.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("#define ") {
            let name = rest.split_whitespace().next().unwrap();
            assert!(name.starts_with("TOKENCLIENT_"), "unprefixed macro {name}");
        }
        if let Some(rest) = t.strip_prefix("typedef ").filter(|r| r.ends_with(';')) {
            let name = rest
                .trim_end_matches(';')
                .rsplit([' ', '*', '(', ')'])
                .find(|s| !s.is_empty())
                .unwrap();
            let name = if rest.contains("(*") {
                rest.split("(*").nth(1).unwrap().split(')').next().unwrap()
            } else {
                name
            };
            assert!(
                name.starts_with("tokenclient_"),
                "unprefixed type {name} in {t:?}"
            );
        }
        if t.starts_with("} ") && t.ends_with(';') {
            let name = t.trim_start_matches("} ").trim_end_matches(';');
            assert!(name.starts_with("tokenclient_"), "unprefixed type {name}");
        }
    }
}

/// The header's ABI, one item a line: every function declaration, typedef,
/// `#define` (but the include guard and the version, which moves with each
/// release) and enum value, whitespace as in the header, sorted.
fn abi(h: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_comment = false;
    let mut enum_items = Vec::new();
    for line in h.lines() {
        let t = line.trim();
        if in_comment || t.starts_with("/*") {
            in_comment = !t.ends_with("*/");
            continue;
        }
        let is_define = t.starts_with("#define ")
            && !t.starts_with("#define TOKENCLIENT_H")
            && !t.starts_with("#define TOKENCLIENT_VERSION_");
        let is_declaration =
            (t.starts_with("typedef ") && t.ends_with(';') && t != "typedef enum {")
                || (t.contains("tokenclient_") && t.ends_with(");"));
        if is_define || is_declaration {
            out.insert(t.to_string());
        } else if t.starts_with("TOKENCLIENT_") && t.ends_with(',') {
            enum_items.push(t.trim_end_matches(',').to_string());
        } else if let Some(name) = t.strip_prefix("} ").and_then(|n| n.strip_suffix(';')) {
            for item in enum_items.drain(..) {
                out.insert(format!("enum {name}: {item}"));
            }
        }
    }
    out
}

/// The ABI of this major version, as released (tests/abi/): each item
/// stays exactly as it is (nothing removed, changed or renumbered), and a
/// new one is added to the file in the same change that adds it, so that
/// every change of the ABI is one a reviewer sees.
#[test]
fn abi_only_grows() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/abi/tokenclient.abi");
    let released: BTreeSet<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("# "))
        .map(str::to_string)
        .collect();
    let current = abi(&header());
    assert!(
        released.len() >= 60,
        "the ABI file lists only {} items",
        released.len()
    );
    let gone: Vec<&String> = released.difference(&current).collect();
    assert!(
        gone.is_empty(),
        "the header no longer has these released ABI items (removed or changed): {gone:#?}"
    );
    let new: Vec<&String> = current.difference(&released).collect();
    assert!(
        new.is_empty(),
        "the header has ABI items that {path} does not list; append them there: {new:#?}"
    );
}

/// The parser behind `abi_only_grows` sees each kind of item, and a change
/// to one shows.
#[test]
fn abi_parser_sees_every_kind_of_item() {
    let h = header();
    let items = abi(&h);
    for expected in [
        "enum tokenclient_error_kind: TOKENCLIENT_ERROR_KEY = 2",
        "#define TOKENCLIENT_AUTH_PRIVATE_KEY_JWT 4",
        "typedef struct tokenclient_client tokenclient_client;",
        "void tokenclient_client_free(tokenclient_client *client);",
    ] {
        assert!(items.contains(expected), "{expected:?} not found");
    }
    let renumbered = abi(&h.replace("TOKENCLIENT_ERROR_KEY = 2", "TOKENCLIENT_ERROR_KEY = 9"));
    assert_ne!(renumbered, items);
}

/// The header reads in the order a C programmer needs it: errors first,
/// then creating a client before anything that uses one.
#[test]
fn header_follows_the_readers_order() {
    let h = header();
    let decls: Vec<String> = functions(&h).into_iter().map(|(_, d)| d).collect();
    let first = |prefix: &str| {
        decls
            .iter()
            .position(|d| d.contains(prefix))
            .unwrap_or_else(|| panic!("no declaration with {prefix}"))
    };
    assert_eq!(first("tokenclient_error_"), 0, "errors come first");
    assert!(
        first("tokenclient_client_new(") == first("tokenclient_client_"),
        "tokenclient_client_new comes first of the client's functions"
    );
    assert!(first("tokenclient_client_new(") < first("tokenclient_client_get_token("));
    assert!(first("tokenclient_client_exchange_code(") < first("tokenclient_token_access_token("));
}
