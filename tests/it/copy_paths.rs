//! The two ways `LinuxHost::copy_file` moves bytes produce the same file and the same
//! sha256: a reflink (FICLONE), on a real XFS filesystem with reflink=1 mounted from a loop
//! image, and the streaming copy that hashes on the way, when the source lives on another
//! filesystem and FICLONE cannot work. `filefrag -v` (FIEMAP) is the oracle for which path
//! the kernel took: a reflinked copy's extents are flagged `shared`.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Command;

use jailsmith::apply::{Host, LinuxHost, transfer};
use jailsmith::plan::{JailPath, Owner};

use common::{TestRoot, require_cmds, require_root, run_ok};

/// Pseudo-random bytes: no run of zeros a filesystem could store as a hole.
fn data(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

/// True when FIEMAP reports an extent of `path` as shared with another file.
fn shares_extents(path: &Path) -> bool {
    let out = run_ok(Command::new("filefrag").arg("-v").arg(path));
    common::text(&out.stdout)
        .lines()
        .any(|l| l.split([',', ' ']).any(|w| w == "shared"))
}

/// A 300 MiB sparse XFS image with reflink=1, loop-mounted at `<root>/xfs`. The TestRoot's
/// drop unmounts it (the loop device is released with the last reference).
fn mount_xfs(t: &TestRoot) -> std::path::PathBuf {
    let img = t.path().join("xfs.img");
    fs::File::create(&img).unwrap().set_len(300 << 20).unwrap();
    run_ok(
        Command::new("mkfs.xfs")
            .args(["-q", "-m", "reflink=1"])
            .arg(&img),
    );
    let mnt = t.dir("xfs");
    run_ok(
        Command::new("mount")
            .args(["-o", "loop"])
            .arg(&img)
            .arg(&mnt),
    );
    mnt
}

#[test]
fn reflink_and_streaming_copies_are_identical_files_with_the_same_sha256() {
    let test = "reflink_and_streaming_copies_are_identical_files_with_the_same_sha256";
    if !require_root(test) || !require_cmds(&["mkfs.xfs", "filefrag", "mount"]) {
        return;
    }
    let t = TestRoot::new(test);
    let mnt = mount_xfs(&t);
    let bytes = data(3_000_017, 1);
    let empty: Vec<u8> = vec![];

    // the same file on the XFS mount (reflink possible) and on the test root's filesystem
    let on_xfs = mnt.join("src");
    let elsewhere = t.dir("src");
    for dir in [&on_xfs, &elsewhere] {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("big"), &bytes).unwrap();
        fs::write(dir.join("empty"), &empty).unwrap();
    }
    let jail = mnt.join("jail");
    let host = LinuxHost::open(&jail, true).unwrap();
    let jp = |s: &str| JailPath::new(s).unwrap();

    let cases = [
        ("reflinked", on_xfs.join("big"), &bytes, true),
        ("streamed", elsewhere.join("big"), &bytes, false),
        ("reflinked-empty", on_xfs.join("empty"), &empty, false),
        ("streamed-empty", elsewhere.join("empty"), &empty, false),
    ];
    for (name, src, want, shared) in cases {
        let copied = host
            .copy_file(&src, &jp(name), 0o644, Owner::ROOT)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let copy = jail.join(name);
        assert_eq!(&fs::read(&copy).unwrap(), want, "{name}: content differs");
        assert_eq!(copied.size, want.len() as u64, "{name}: size");
        assert_eq!(copied.sha256, transfer::sha256_hex(want), "{name}: sha256");
        assert_eq!(
            host.hash_file(&jp(name)).unwrap(),
            copied.sha256,
            "{name}: the copy hashed again gives another digest"
        );
        assert_eq!(
            shares_extents(&copy),
            shared,
            "{name}: FIEMAP says the copy {} extents with its source",
            if shared { "does not share" } else { "shares" }
        );
    }
}
