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
