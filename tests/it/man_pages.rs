//! The committed man pages in `man/` are the generated ones, each renders with `man -l`
//! without warnings, and completions generate for bash, zsh and fish. Runs the real binary;
//! writes only into temporary directories.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const REGENERATE: &str = "cargo run -- generate man man/";

fn jailsmith() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jailsmith"))
}

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man")
}

fn generate(what: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = jailsmith()
        .args(["generate", what])
        .arg(dir.path())
        .output()
        .expect("run jailsmith generate");
    assert!(
        out.status.success(),
        "jailsmith generate {what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn committed_man_pages_are_current() {
    let fresh = generate("man");
    let generated = file_names(fresh.path());
    let committed = file_names(&committed_dir());

    let mut problems = Vec::new();
    for name in generated.difference(&committed) {
        problems.push(format!("missing from man/: {name}"));
    }
    for name in committed.difference(&generated) {
        problems.push(format!("in man/ but no longer generated: {name}"));
    }
    for name in generated.intersection(&committed) {
        let new = fs::read(fresh.path().join(name)).expect("read generated page");
        let old = fs::read(committed_dir().join(name)).expect("read committed page");
        if new != old {
            problems.push(format!("stale: man/{name}"));
        }
    }
    assert!(
        problems.is_empty(),
        "the committed man pages differ from the clap definitions:\n  {}\nregenerate them with \
         `{REGENERATE}` and commit man/",
        problems.join("\n  ")
    );
}

#[test]
fn regenerating_removes_pages_of_commands_that_are_gone() {
    let dir = generate("man");
    let stale = dir.path().join("jailsmith-removed.8");
    let unrelated = dir.path().join("other.8");
    fs::write(&stale, ".TH OLD 8\n").expect("write");
    fs::write(&unrelated, ".TH OTHER 8\n").expect("write");
    let out = jailsmith()
        .args(["generate", "man"])
        .arg(dir.path())
        .output()
        .expect("run jailsmith generate man");
    assert!(out.status.success());
    assert!(!stale.exists(), "a page no command generates was kept");
    assert!(
        unrelated.exists(),
        "a file that is not a jailsmith page was removed"
    );
}

#[test]
fn every_page_renders_without_warnings() {
    let fresh = generate("man");
    let names = file_names(fresh.path());
    assert!(names.contains("jailsmith.8"), "no jailsmith.8 in {names:?}");
    assert!(
        names.contains("jailsmith-profile.5"),
        "no jailsmith-profile.5"
    );
    for name in names {
        let path = fresh.path().join(&name);
        let out = Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&path)
            .env("MANWIDTH", "80")
            // A fixed locale every glibc >= 2.35 has built in: a LANG naming a locale the
            // machine lacks makes man warn about the locale, not the page.
            .env("LC_ALL", "C.UTF-8")
            .env_remove("MAN_KEEP_FORMATTING")
            .env_remove("MANPAGER")
            .env("PAGER", "cat")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `man` ({e}): install man-db and groff-base \
                     (apt-get install -y man-db groff-base; dnf install -y man-db groff-base)"
                )
            });
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "man -l {name} failed or warned (exit {:?}):\n{stderr}",
            out.status.code()
        );
        let text = String::from_utf8_lossy(&out.stdout);
        for heading in ["NAME", "SYNOPSIS", "DESCRIPTION"] {
            assert!(text.contains(heading), "{name}: no {heading} section");
        }
    }
}

#[test]
fn main_page_documents_every_command_and_exit_code() {
    let fresh = generate("man");
    let names = file_names(fresh.path());
    let main = fs::read_to_string(fresh.path().join("jailsmith.8")).expect("jailsmith.8");
    for section in [
        "EXIT STATUS",
        "FILES",
        "EXAMPLES",
        "SECURITY NOTES",
        "SEE ALSO",
    ] {
        assert!(
            main.contains(&format!(".SH \"{section}\""))
                || main.contains(&format!(".SH {section}")),
            "jailsmith.8 has no {section} section"
        );
    }
    for (code, _) in jailsmith::exit::TABLE {
        assert!(
            main.contains(&format!("\\fB{code}\\fR")),
            "exit code {code} missing from jailsmith.8"
        );
    }
    // One page per visible command, listed on the main page; nothing for hidden ones.
    let help = jailsmith()
        .arg("--help")
        .output()
        .expect("jailsmith --help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .expect("--help lists commands")
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(!commands.is_empty(), "no commands found in --help:\n{help}");
    for command in commands {
        let page = format!("jailsmith-{command}.8");
        assert!(names.contains(&page), "no page {page}");
        assert!(
            main.contains(&format!("jailsmith\\-{command}(8)")),
            "jailsmith.8 does not list {command}"
        );
    }
    assert!(
        !names.contains("jailsmith-generate.8"),
        "hidden command got a page"
    );
    assert!(
        !main.contains("generate"),
        "hidden command listed in jailsmith.8"
    );
}

#[test]
fn pages_do_not_carry_the_git_commit() {
    let fresh = generate("man");
    let version = String::from_utf8_lossy(
        &jailsmith()
            .arg("--version")
            .output()
            .expect("--version")
            .stdout,
    )
    .into_owned();
    // "jailsmith 0.1.0 (abc123…)": the commit changes with every commit, the pages must not.
    let commit = version
        .split_once('(')
        .map(|(_, c)| c.trim().trim_end_matches(')').to_string())
        .expect("--version prints the commit in parentheses");
    for name in file_names(fresh.path()) {
        let page = fs::read_to_string(fresh.path().join(&name)).expect("read page");
        assert!(
            !page.contains(&commit),
            "{name} contains the commit {commit}"
        );
    }
}

#[test]
fn completions_generate_for_bash_zsh_and_fish() {
    let fresh = generate("completions");
    let names = file_names(fresh.path());
    let expected: BTreeSet<String> = ["jailsmith", "_jailsmith", "jailsmith.fish"]
        .map(String::from)
        .into();
    assert_eq!(names, expected);
    for name in &names {
        let text = fs::read_to_string(fresh.path().join(name)).expect("read completion");
        assert!(text.contains("build"), "{name} does not complete `build`");
        assert!(
            !text.contains("generate"),
            "{name} offers the hidden `generate`"
        );
    }
    let bash = Command::new("bash")
        .arg("-n")
        .arg(fresh.path().join("jailsmith"))
        .output()
        .expect("run bash -n");
    assert!(
        bash.status.success(),
        "bash completion has a syntax error: {}",
        String::from_utf8_lossy(&bash.stderr)
    );
}

#[test]
fn every_command_page_has_examples_files_and_its_own_exit_status() {
    let fresh = generate("man");
    for name in file_names(fresh.path()) {
        if !name.starts_with("jailsmith-") || !name.ends_with(".8") {
            continue;
        }
        let page = fs::read_to_string(fresh.path().join(&name)).expect("read page");
        for section in ["EXAMPLES", "FILES", "EXIT STATUS", "SEE ALSO"] {
            assert!(
                page.contains(&format!(".SH \"{section}\""))
                    || page.contains(&format!(".SH {section}")),
                "{name} has no {section} section"
            );
        }
        assert!(
            page.contains("What it changes"),
            "{name}: no `What it changes`"
        );
        // Its own codes, not the whole table: no page but verify's (and user's, through
        // --verify-with) speaks of host keys.
        let host_key = page.contains("\\fB3\\fR");
        let may = matches!(name.as_str(), "jailsmith-verify.8" | "jailsmith-user.8");
        assert_eq!(host_key, may, "{name}: exit status 3 listed: {host_key}");
    }
    let check = fs::read_to_string(fresh.path().join("jailsmith-check.8")).unwrap();
    for kind in [
        "chroot\\-rule",
        "setuid",
        "unknown\\-mount",
        "stale",
        "limits\\-missing",
    ] {
        assert!(
            check.contains(kind),
            "jailsmith-check.8 does not explain {kind}"
        );
    }
}

#[test]
fn help_examples_continue_with_a_backslash_and_defaults_are_not_contradicted() {
    let help = |cmd: &str| {
        let out = jailsmith()
            .args([cmd, "--help"])
            .env("COLUMNS", "100")
            .output()
            .expect("--help");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for cmd in [
        "build", "user", "users", "verify", "check", "update", "mount", "destroy", "service",
        "apply", "deps",
    ] {
        let text = help(cmd);
        let examples = text
            .split("Examples:")
            .nth(1)
            .unwrap_or_else(|| panic!("{cmd} --help has no examples"));
        let mut lines = examples
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty());
        let mut prev = lines.next().expect("an example");
        for line in lines {
            if !line.trim_start().starts_with("jailsmith ") {
                assert!(
                    prev.ends_with('\\'),
                    "{cmd} --help: example line split without a backslash:\n{prev}\n{line}"
                );
            }
            prev = line;
        }
    }
    let check = help("check");
    assert!(!check.contains("[default: 0]"), "{check}");
    assert!(check.contains("(default: one per CPU)"), "{check}");
}

/// The finding kinds `check` can report, as the source names them: `kind: "x"` fields and
/// kind arguments written alone on a line, in the modules that make findings.
fn finding_kinds_in_source() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("src/audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.push(root.join("src/labels.rs"));
    files.push(root.join("src/service/files.rs"));
    let is_kind = |s: &str| {
        !s.is_empty()
            && s.split('-')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
    };
    let mut kinds = BTreeSet::new();
    for f in files {
        let src = fs::read_to_string(&f).unwrap();
        // unit tests below `mod tests` may name anything
        let src = src.split("#[cfg(test)]").next().unwrap();
        for line in src.lines().map(str::trim) {
            let quoted = line
                .strip_prefix("kind: \"")
                .and_then(|r| r.strip_suffix("\","))
                .or_else(|| line.strip_prefix('"').and_then(|r| r.strip_suffix("\",")));
            if let Some(k) = quoted.filter(|k| is_kind(k)) {
                kinds.insert(k.to_string());
            }
        }
    }
    kinds
}

#[test]
fn the_check_page_documents_every_finding_kind() {
    let kinds = finding_kinds_in_source();
    assert!(
        kinds.len() > 20 && kinds.contains("not-jailed") && kinds.contains("hard-link"),
        "the source scan found too few kinds: {kinds:?}"
    );
    let manual = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli/generate/manual/check.md"),
    )
    .unwrap();
    let missing: Vec<&String> = kinds
        .iter()
        .filter(|k| !manual.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "jailsmith-check(8) does not document these finding kinds: {missing:?}"
    );
}

/// The jailsmith command lines of an examples text: continuation lines (`\`) joined, a
/// leading `sudo` dropped, cut at a pipe or a comment.
fn example_command_lines(text: &str) -> Vec<Vec<String>> {
    let mut joined: Vec<String> = Vec::new();
    let mut open = false;
    for line in text.lines().map(str::trim) {
        if open {
            let last = joined.last_mut().expect("a line to continue");
            last.pop(); // the backslash
            last.push(' ');
            last.push_str(line);
        } else {
            let line = line.strip_prefix("sudo ").unwrap_or(line);
            if !line.starts_with("jailsmith ") {
                continue;
            }
            joined.push(line.to_string());
        }
        open = joined.last().is_some_and(|l| l.ends_with('\\'));
    }
    joined
        .iter()
        .map(|l| {
            let words = shlex::split(l).unwrap_or_else(|| panic!("example does not split: {l}"));
            words
                .into_iter()
                .take_while(|w| !matches!(w.as_str(), "|" | "&&" | ";" | "||"))
                .collect()
        })
        .collect()
}

#[test]
fn every_example_is_a_command_line_jailsmith_accepts() {
    use clap::Parser;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli/generate/manual");
    let mut sources: Vec<(String, String)> = Vec::new();
    for name in file_names(&root) {
        let md = fs::read_to_string(root.join(&name)).unwrap();
        if let Some(examples) = md.split("# EXAMPLES").nth(1) {
            let section = examples.split("\n# ").next().unwrap_or(examples);
            sources.push((format!("manual/{name}"), section.to_string()));
        }
    }
    for cmd in [
        "build", "user", "users", "verify", "check", "update", "mount", "umount", "destroy",
        "service", "apply", "deps", "profiles",
    ] {
        let out = jailsmith().args([cmd, "--help"]).output().expect("--help");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(examples) = help.split("Examples:").nth(1) {
            sources.push((format!("{cmd} --help"), examples.to_string()));
        }
    }
    let mut checked = 0;
    for (from, text) in &sources {
        for argv in example_command_lines(text) {
            if let Err(e) = jailsmith::cli::Cli::try_parse_from(&argv) {
                panic!("{from}: the example {argv:?} is not a valid command line:\n{e}");
            }
            checked += 1;
        }
    }
    assert!(
        checked > 40,
        "only {checked} examples found in {} sources",
        sources.len()
    );
}

/// The `(code, text)` entries of a page's EXIT STATUS section (`.TP`, `\fBN\fR`, text), the
/// roff escapes of the text undone.
fn exit_entries(page: &str) -> Vec<(u8, String)> {
    let section = page
        .split(".SH \"EXIT STATUS\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no EXIT STATUS section"));
    let section = section.split("\n.SH").next().unwrap_or_default();
    let lines: Vec<&str> = section.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(code) = l.strip_prefix("\\fB").and_then(|c| c.strip_suffix("\\fR")) else {
            continue;
        };
        if i == 0 || lines[i - 1] != ".TP" {
            continue;
        }
        let text = lines.get(i + 1).copied().unwrap_or_default();
        out.push((
            code.parse().expect("a numeric exit code"),
            text.replace("\\-", "-").replace("\\*(Aq", "'"),
        ));
    }
    out
}

#[test]
fn exit_status_sections_come_from_the_exit_table() {
    let fresh = generate("man");
    let table: Vec<(u8, String)> = jailsmith::exit::TABLE
        .iter()
        .map(|(c, m)| (*c, m.to_string()))
        .collect();
    let main = fs::read_to_string(fresh.path().join("jailsmith.8")).expect("jailsmith.8");
    assert_eq!(
        exit_entries(&main),
        table,
        "jailsmith.8 EXIT STATUS is exit::TABLE, in order"
    );
    for name in file_names(fresh.path()) {
        let page = fs::read_to_string(fresh.path().join(&name)).unwrap();
        if name == "jailsmith.8" || !page.contains(".SH \"EXIT STATUS\"") {
            continue;
        }
        let entries = exit_entries(&page);
        assert!(!entries.is_empty(), "{name}: an empty EXIT STATUS");
        for (code, _) in &entries {
            assert!(
                table.iter().any(|(c, _)| c == code),
                "{name}: exit {code} is not in exit::TABLE"
            );
        }
    }
}
