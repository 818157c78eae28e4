//! The repository's documentation holds together: the front page stays short, every relative
//! link in the documents lands on a file (and, into a Markdown file, on a heading), no file
//! points at a document the repository does not hold, and the license and changelog are there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the workspace")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The documents whose links are checked: the front page, the changelog, the READMEs a reader
/// meets first, and everything under docs/.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut docs: Vec<PathBuf> = [
        "README.md",
        "CHANGELOG.md",
        "clients/js/README.md",
        "examples/web/README.md",
    ]
    .iter()
    .map(|p| root.join(p))
    .collect();
    markdown_under(&root.join("docs"), &mut docs);
    docs
}

fn markdown_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// The lines outside fenced code blocks, with their numbers (from 1).
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<char> = None;
    let mut lines = vec![];
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ['`', '~']
            .into_iter()
            .find(|&c| trimmed.starts_with(&c.to_string().repeat(3)));
        match (fence, marker) {
            (None, Some(c)) => fence = Some(c),
            (Some(open), Some(c)) if open == c => fence = None,
            (None, None) => lines.push((i + 1, line)),
            _ => {}
        }
    }
    lines
}

/// `line` without its code spans (a run of backticks up to the next run of the same length).
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let run = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + run..];
        let closing = "`".repeat(run);
        match after.find(&closing) {
            Some(end) if !after[end + run..].starts_with('`') => rest = &after[end + run..],
            _ => {
                out.push_str(&rest[start..start + run]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The targets of the inline links and images of a line: `[text](target "title")`.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code(line);
    let mut targets = vec![];
    let mut rest = line.as_str();
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let mut depth = 0;
        let end = after
            .char_indices()
            .find(|&(_, c)| match c {
                '(' => {
                    depth += 1;
                    false
                }
                ')' if depth == 0 => true,
                ')' => {
                    depth -= 1;
                    false
                }
                _ => false,
            })
            .map_or(after.len(), |(j, _)| j);
        let inside = after[..end].trim();
        let target = match inside.strip_prefix('<') {
            Some(bracketed) => bracketed.split('>').next().unwrap_or(""),
            None => inside.split_whitespace().next().unwrap_or(""),
        };
        targets.push(target.to_string());
        rest = &after[end..];
    }
    targets
}

/// GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The anchors of a Markdown file's headings, repeated ones numbered as GitHub does (`-1`, ...).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (_, line) in prose(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        let Some(title) = line[hashes..].strip_prefix(' ') else {
            continue;
        };
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let base = slug(title.trim_end_matches('#'));
        let mut anchor = base.clone();
        let mut n = 0;
        while found.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        found.insert(anchor);
    }
    found
}

/// What is wrong with `target` as a link from `file`, if anything.
fn broken(file: &Path, target: &str) -> Option<String> {
    let external = ["http://", "https://", "mailto:"];
    if target.is_empty() || external.iter().any(|p| target.starts_with(p)) {
        return None;
    }
    let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
    let resolved = if path.is_empty() {
        file.to_path_buf()
    } else {
        file.parent().unwrap().join(path)
    };
    if !resolved.exists() {
        return Some(format!("{target}: no such file or directory"));
    }
    let markdown = resolved.extension().is_some_and(|e| e == "md");
    if !fragment.is_empty() && markdown && !anchors(&read(&resolved)).contains(fragment) {
        return Some(format!("{target}: no heading with the anchor #{fragment}"));
    }
    None
}

#[test]
fn the_readme_stays_at_most_200_lines() {
    let lines = read(&root().join("README.md")).lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines: move the detail into docs/ and link to it"
    );
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = root();
    let mut failures = vec![];
    for file in documents() {
        let text = read(&file);
        for (number, line) in prose(&text) {
            for target in link_targets(line) {
                if let Some(why) = broken(&file, &target) {
                    let name = file.strip_prefix(&root).unwrap_or(&file).display().to_string();
                    failures.push(format!("{name}:{number}: {why}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "broken links:\n{}", failures.join("\n"));
}

#[test]
fn the_link_scanner_sees_links_and_skips_code() {
    let text = "[a](x.md#one) `[b](y.md)` ![c](img.png \"t\")\n```\n[d](z.md)\n```\n## One, two & `three`\n";
    let targets: Vec<String> = prose(text)
        .into_iter()
        .flat_map(|(_, l)| link_targets(l))
        .collect();
    assert_eq!(targets, ["x.md#one", "img.png"]);
    assert!(anchors(text).contains("one-two--three"), "{:?}", anchors(text));
}

/// The repository's files, relative to `root`: the ones git tracks, or, in a copy without git
/// (a source archive, a mutation-testing tree), every file but the build's, the installed
/// tools' and local mode's.
fn repository_files(root: &Path) -> Vec<String> {
    let tracked = Command::new("git").arg("ls-files").current_dir(root).output();
    if let Some(out) = tracked.ok().filter(|o| o.status.success()) {
        return String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
    }
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if [".git", "target", "node_modules", ".venv", ".local", ".hypothesis"].contains(&name.as_ref()) {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out);
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.to_string_lossy().to_string());
            }
        }
    }
    let mut files = vec![];
    walk(root, root, &mut files);
    files
}

#[test]
fn no_file_refers_to_a_document_outside_the_repository() {
    // Built from pieces, so that this file does not name them itself.
    let needles = [
        concat!("DESIGN", ".md"),
        concat!("DESIGN", " §"),
        concat!("seed", "-api"),
        concat!("../", "shared/"),
    ];
    let root = root();
    let skipped = |path: &str| {
        path.starts_with("target/")
            || path.contains("node_modules/")
            || path.ends_with(".lock")
            || path.ends_with("package-lock.json")
    };
    let mut failures = vec![];
    for path in repository_files(&root).iter().filter(|p| !skipped(p)) {
        // A tracked file deleted in the working tree, or a binary one, has nothing to read.
        let Ok(bytes) = std::fs::read(root.join(path)) else {
            continue;
        };
        if bytes.contains(&0) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for (i, line) in text.lines().enumerate() {
            for needle in needles.iter().filter(|n| line.contains(*n)) {
                failures.push(format!("{path}:{}: {needle}", i + 1));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "references to documents outside the repository:\n{}",
        failures.join("\n")
    );
}

#[test]
fn license_and_changelog_exist() {
    let root = root();
    let license = read(&root.join("LICENSE"));
    assert!(
        license.starts_with("MIT License"),
        "LICENSE is not the MIT license"
    );
    assert!(
        !read(&root.join("CHANGELOG.md")).trim().is_empty(),
        "CHANGELOG.md is empty"
    );
    let readme = read(&root.join("README.md"));
    for link in ["](LICENSE)", "](CHANGELOG.md)"] {
        assert!(readme.contains(link), "README.md does not link {link}");
    }
}
