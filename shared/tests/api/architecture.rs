//! The shape of the library holds: its top-level modules depend one way (no cycle, and no
//! module reaching up a layer), and no source file grows past 500 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom up; a module may use modules of its own layer or below, never above.
const LAYERS: &[&[&str]] = &[
    &["domain", "config", "clock", "secrets", "routes"],
    &[
        "aws", "wire", "hashing", "keys", "mail", "queue", "store", "tokens",
    ],
    &["error", "http", "state"],
    &["endpoints", "admin"],
    &["runtime"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`store/sqlite/users.rs` -> `store`).
fn top_module(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules named by `crate::...` paths in the non-test code of `text`.
fn uses(text: &str) -> BTreeSet<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with('$') {
            continue; // `$crate::` in a macro
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap()];
            found.extend(group.split(',').map(ident).filter(|s| !s.is_empty()));
        } else {
            found.insert(ident(rest));
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = vec![];
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = top_module(&file);
        if module == "lib" {
            continue;
        }
        let mut deps = uses(&std::fs::read_to_string(&file).unwrap());
        deps.remove(&module);
        graph.entry(module).or_default().extend(deps);
    }
    graph
}

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module {module} is in no layer of LAYERS"))
}

#[test]
fn modules_depend_one_way() {
    let graph = graph();
    for (module, deps) in &graph {
        for dep in deps {
            assert!(
                layer(dep) <= layer(module),
                "{module} (layer {}) uses {dep} (layer {}), a layer above it",
                layer(module),
                layer(dep)
            );
        }
    }
    // No cycle within a layer either: repeatedly remove modules with no remaining dependencies.
    let mut left = graph.clone();
    while !left.is_empty() {
        let free: Vec<String> = left
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !left.contains_key(d)))
            .map(|(m, _)| m.clone())
            .collect();
        assert!(
            !free.is_empty(),
            "module cycle among {:?}",
            left.keys().collect::<Vec<_>>()
        );
        for m in free {
            left.remove(&m);
        }
    }
}

#[test]
fn no_source_file_is_over_500_lines() {
    let mut files = vec![];
    rust_files(&src(), &mut files);
    for file in files {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        assert!(lines <= 500, "{} has {lines} lines", file.display());
    }
}
