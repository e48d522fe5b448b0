//! The house rules of ARCHITECTURE.md, checked on the source itself: modules import only
//! downward (no cycle, no layer reaching up), files stay under 400 lines, and every file starts
//! with a `//!` saying what it owns. A rule broken here names the file and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module and the modules it may import. Order is bottom to top; a module may
/// import only modules listed before it, and only those named here.
const LAYERS: &[(&str, &[&str])] = &[
    ("config", &[]),
    ("telemetry", &[]),
    ("model", &["config", "telemetry"]),
    ("route", &["model"]),
    ("upstream", &["model", "telemetry"]),
    ("compare", &["telemetry"]),
    ("reload", &["config", "model"]),
    ("kubernetes", &["config", "model", "reload"]),
    (
        "proxy",
        &["config", "model", "route", "telemetry", "upstream"],
    ),
    (
        "admin",
        &["compare", "model", "proxy", "reload", "telemetry"],
    ),
    (
        "app",
        &[
            "admin",
            "compare",
            "config",
            "kubernetes",
            "model",
            "proxy",
            "reload",
            "telemetry",
            "upstream",
        ],
    ),
    (
        "tools",
        &[
            "app",
            "compare",
            "config",
            "model",
            "proxy",
            "route",
            "telemetry",
        ],
    ),
    (
        "cli",
        &[
            "admin",
            "app",
            "compare",
            "config",
            "kubernetes",
            "model",
            "proxy",
            "telemetry",
            "tools",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `src/proxy/mirror/send.rs` -> `proxy`; the crate roots have none.
fn top_module(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    (!matches!(name, "lib" | "main" | "architecture_tests")).then(|| name.to_string())
}

/// Every `crate::NAME` a file refers to outside comments, with its line number.
fn crate_refs(text: &str) -> Vec<(usize, String)> {
    let mut refs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                refs.push((i + 1, name));
            }
            rest = after;
        }
    }
    refs
}

#[test]
fn modules_import_only_downward() {
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut broken = Vec::new();
    for file in &files {
        let Some(module) = top_module(file) else {
            continue;
        };
        let Some(may) = allowed.get(module.as_str()) else {
            broken.push(format!(
                "{}: module {module} is not in LAYERS",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable");
        for (line, target) in crate_refs(&text) {
            if target != module && allowed.contains_key(target.as_str()) && !may.contains(&&*target)
            {
                broken.push(format!(
                    "{}:{line}: {module} imports {target}, which it must not",
                    file.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn layers_are_listed_bottom_to_top() {
    let order: Vec<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    for (i, (module, may)) in LAYERS.iter().enumerate() {
        for dep in *may {
            let at = order.iter().position(|m| m == dep);
            assert!(
                at.is_some_and(|at| at < i),
                "{module} may import {dep}, which is not below it"
            );
        }
    }
}

#[test]
fn files_are_small_and_say_what_they_own() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let lines = text.lines().count();
        if lines > 400 {
            broken.push(format!("{}: {lines} lines (at most 400)", file.display()));
        }
        if !text.starts_with("//!") {
            broken.push(format!("{}: does not start with a //! doc", file.display()));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_imports_and_skips_comments() {
    let text =
        "use crate::model::Snapshot;\n// crate::cli in a comment\nlet x = crate::route::find(t);";
    let refs = crate_refs(text);
    assert_eq!(
        refs,
        vec![(1, "model".to_string()), (3, "route".to_string())]
    );
    assert_eq!(
        top_module(&src().join("proxy/mirror/send.rs")).as_deref(),
        Some("proxy")
    );
    assert_eq!(top_module(&src().join("lib.rs")), None);
}
