//! The shape of the library holds: its top-level modules depend one way (no cycle, and no
//! module reaching up a layer), the files inside each module too (no circle of imports between
//! the files of one folder), and no source file grows past 500 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom up; a module may use modules of its own layer or below, never above.
const LAYERS: &[&[&str]] = &[
    &["domain", "config", "clock", "randomness", "routes"],
    &[
        "aws",
        "trust_roots",
        "wire",
        "hashing",
        "keys",
        "mail",
        "queue",
        "store",
        "tokens",
        "outbound",
        "federation",
        "hooks",
    ],
    &["error", "http", "state"],
    &["endpoints", "admin", "import"],
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
    reached(text, "crate::")
}

/// The names `path::` reaches in the non-test code of `text` (comments left out): `path::name`
/// and `path::{a, b}`.
fn reached(text: &str, path: &str) -> BTreeSet<String> {
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
    for (i, _) in code.match_indices(path) {
        if code[..i].ends_with('$') {
            continue; // `$crate::` in a macro
        }
        let rest = &code[i + path.len()..];
        match rest.strip_prefix('{') {
            Some(group) => found.extend(
                group[..group.find('}').unwrap_or(0)]
                    .split(',')
                    .map(ident)
                    .filter(|s| !s.is_empty()),
            ),
            None => {
                found.insert(ident(rest));
            }
        }
    }
    found
}

/// Whether `graph` has a cycle: repeatedly removes the nodes with no remaining dependencies;
/// what is left at the end is on (or behind) a cycle.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let mut left = graph.clone();
    while !left.is_empty() {
        let free: Vec<String> = left
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !left.contains_key(d)))
            .map(|(m, _)| m.clone())
            .collect();
        if free.is_empty() {
            return Some(left.into_keys().collect());
        }
        for m in free {
            left.remove(&m);
        }
    }
    None
}

/// The files of folder `dir` (not `mod.rs`, the folder's own root) and which of them each
/// imports, through `super::` or its full `crate::` path.
fn file_graph(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let rel = dir.strip_prefix(src()).unwrap();
    let full = format!(
        "crate::{}::",
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect::<Vec<_>>()
            .join("::")
    );
    let files: BTreeMap<String, PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("mod.rs"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().to_string(), p))
        .collect();
    files
        .iter()
        .map(|(name, path)| {
            let text = std::fs::read_to_string(path).unwrap();
            let mut deps = reached(&text, "super::");
            deps.extend(reached(&text, &full));
            deps.retain(|d| d != name && files.contains_key(d));
            (name.clone(), deps)
        })
        .collect()
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
    // No cycle within a layer either.
    if let Some(modules) = cycle(&graph) {
        panic!("module cycle among {modules:?}");
    }
}

#[test]
fn the_files_of_each_module_import_each_other_one_way() {
    fn folders(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.push(path.clone());
                folders(&path, out);
            }
        }
    }
    let mut dirs = vec![];
    folders(&src(), &mut dirs);
    assert!(dirs.iter().any(|d| d.ends_with("endpoints")));
    for dir in dirs {
        if let Some(files) = cycle(&file_graph(&dir)) {
            panic!("an import circle between files of {}: {files:?}", dir.display());
        }
    }
}

#[test]
fn an_import_circle_between_two_files_is_seen() {
    let mut graph = BTreeMap::new();
    graph.insert("mailer".to_string(), BTreeSet::from(["reset".to_string()]));
    graph.insert("reset".to_string(), BTreeSet::from(["mailer".to_string()]));
    graph.insert("common".to_string(), BTreeSet::new());
    assert_eq!(
        cycle(&graph),
        Some(vec!["mailer".to_string(), "reset".to_string()])
    );
    graph.get_mut("reset").unwrap().clear();
    assert_eq!(cycle(&graph), None);
    assert_eq!(
        reached(
            "use super::{delivery::Delivery, common};\nuse super::mailer;",
            "super::"
        ),
        BTreeSet::from(["delivery".to_string(), "common".to_string(), "mailer".to_string()])
    );
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

#[test]
fn the_environment_is_read_only_in_config() {
    let mut files = vec![];
    rust_files(&src(), &mut files);
    for file in files {
        if file.starts_with(src().join("config")) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for needle in ["env::var", "env::vars", "env::var_os"] {
            assert!(
                !text.contains(needle),
                "{} reads the environment ({needle}); read it in config/",
                file.display()
            );
        }
    }
}
