//! Privileged: layers unpacked with ownership, devices, whiteouts; overlay and copy
//! snapshots as a user sees them; diff and commit; escapes refused; `docker cp`/export on
//! a real busybox root. Each test runs in its own mount namespace (`isolated!`).

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_image::{
    Change, ChangeKind, CommitOptions, DeleteItem, Digest, Driver, ImportOptions, Ownership,
    Snapshot, Store,
};
use berth_testutil::{isolated, Cleanup};
use common::*;

struct Env {
    dir: tempfile::TempDir,
    store: Store,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("image")).expect("open store");
    Env { dir, store }
}

impl Env {
    fn container(&self, name: &str) -> (PathBuf, PathBuf) {
        let c = self.dir.path().join("containers").join(name);
        let rootfs = c.join("rootfs");
        std::fs::create_dir_all(&rootfs).expect("rootfs dir");
        (c, rootfs)
    }
}

fn mounted(store: &Store, snap: &Snapshot, target: &Path) -> Cleanup<impl FnOnce()> {
    store.mount(snap, target).expect("mount");
    let t = target.to_path_buf();
    Cleanup::new(move || {
        let _ = berth_image::unmount(&t);
    })
}

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p.as_ref())
        .unwrap_or_else(|e| panic!("read {}: {e}", p.as_ref().display()))
}

fn names(dir: impl AsRef<Path>) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.as_ref())
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.as_ref().display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Two layers: the second deletes a file (whiteout), empties a directory (opaque) and
/// replaces a file.
fn two_layer_image(store: &Store) -> Digest {
    let l1 = TarBuilder::new()
        .dir("etc", 0o755)
        .file("etc/keep", b"keep v1")
        .file("etc/gone", b"gone")
        .hardlink("etc/keep2", "etc/keep")
        .symlink("etc/link", "keep")
        .dir("data", 0o755)
        .file("data/old1", b"1")
        .file("data/old2", b"2")
        .file_owned("usr/bin/suid", b"#!/bin/sh\n", 0o4755, 1000, 1001)
        .chardev("dev/char", 1, 3)
        .fifo("run/fifo")
        .file_with_xattr("etc/xattr", b"x", "user.test", "hello")
        .file("etc/hl_a", b"shared")
        .hardlink("etc/hl_b", "etc/hl_a")
        .finish();
    let l2 = TarBuilder::new()
        .file("etc/.wh.gone", b"")
        .dir("data", 0o755)
        .file("data/.wh..wh..opq", b"")
        .file("data/new", b"new")
        .file("etc/keep", b"keep v2")
        .finish();
    let config = config_for(&[&l1, &l2], &["sh"]);
    let archive = docker_archive(&[(vec![l1, l2], config.clone(), vec!["layered:1"])]);
    store.load(archive.as_slice(), &mut |_| {}).expect("load");
    digest(&config)
}

fn assert_merged_view(root: &Path) {
    assert_eq!(read(root.join("etc/keep")), "keep v2");
    assert!(!root.join("etc/gone").exists(), "whiteout hides etc/gone");
    assert_eq!(
        names(root.join("data")),
        ["new"],
        "opaque directory hides the lower files"
    );
    assert_eq!(
        read(root.join("etc/keep2")),
        "keep v1",
        "hard link of the first layer's file"
    );
    let (a, b) = (
        std::fs::metadata(root.join("etc/hl_a")).expect("hl_a"),
        std::fs::metadata(root.join("etc/hl_b")).expect("hl_b"),
    );
    assert_eq!(
        (a.ino(), a.nlink()),
        (b.ino(), 2),
        "hard links stay one inode"
    );
    assert_eq!(
        std::fs::read_link(root.join("etc/link")).expect("link"),
        Path::new("keep")
    );
    let suid = std::fs::metadata(root.join("usr/bin/suid")).expect("suid");
    assert_eq!(
        (suid.uid(), suid.gid(), suid.permissions().mode() & 0o7777),
        (1000, 1001, 0o4755)
    );
    assert_eq!(suid.mtime(), 1_600_000_000);
    let dev = std::fs::metadata(root.join("dev/char")).expect("dev");
    assert!(dev.file_type().is_char_device());
    assert_eq!(dev.rdev(), rustix::fs::makedev(1, 3));
    assert!(std::fs::metadata(root.join("run/fifo"))
        .expect("fifo")
        .file_type()
        .is_fifo());
    let mut v = [0u8; 16];
    let n = rustix::fs::getxattr(root.join("etc/xattr"), "user.test", &mut v[..]).expect("xattr");
    assert_eq!(&v[..n], b"hello");
}

fn change(path: &str, kind: ChangeKind) -> Change {
    Change {
        path: path.into(),
        kind,
    }
}

/// The user's edits, then what `docker diff` must say about them.
fn edit_and_check_changes(store: &Store, snap: &Snapshot, root: &Path) {
    std::fs::write(root.join("etc/newfile"), "fresh").expect("write");
    std::fs::remove_file(root.join("etc/keep2")).expect("rm keep2");
    std::fs::remove_dir_all(root.join("data")).expect("rm data");
    std::fs::create_dir(root.join("data")).expect("mkdir data");
    std::fs::write(root.join("data/again"), "again").expect("write again");
    let changes = store.changes(snap).expect("changes");
    for c in [
        change("/etc", ChangeKind::Modified),
        change("/etc/newfile", ChangeKind::Added),
        change("/etc/keep2", ChangeKind::Deleted),
        change("/data/again", ChangeKind::Added),
        change("/data/new", ChangeKind::Deleted),
    ] {
        assert!(changes.contains(&c), "{c:?} missing from {changes:?}");
    }
    assert!(
        !changes
            .iter()
            .any(|c| c.path.starts_with("/usr") || c.path == "/etc/keep"),
        "unchanged paths reported: {changes:?}"
    );
}

fn commit_and_check(env: &Env, snap: &Snapshot, name: &str) {
    let id = env
        .store
        .commit(
            snap,
            &CommitOptions {
                reference: Some(format!("committed:{name}")),
                comment: Some("edited".into()),
                changes: vec!["ENV X=1".into()],
                ..Default::default()
            },
        )
        .expect("commit");
    let img = env.store.image(&id).expect("image");
    assert_eq!(img.diff_ids.len(), 3);
    assert_eq!(img.parent.as_ref(), snap.image.as_ref());
    assert_eq!(
        img.config.config().env,
        Some(vec!["PATH=/bin".into(), "X=1".into()])
    );
    let h = env
        .store
        .history(&format!("committed:{name}"))
        .expect("history");
    assert_eq!(h[0].comment, "edited");
    let (dir, root) = env.container(&format!("from-commit-{name}"));
    let snap2 = env
        .store
        .create_snapshot(
            &format!("c2-{name}"),
            Some(&id),
            &dir,
            Some(Driver::Overlay),
        )
        .expect("snapshot of commit");
    let _m = mounted(&env.store, &snap2, &root);
    assert_eq!(read(root.join("etc/newfile")), "fresh");
    assert!(!root.join("etc/keep2").exists());
    assert_eq!(names(root.join("data")), ["again"]);
    assert_eq!(read(root.join("etc/keep")), "keep v2");
}

#[test]
fn overlay_snapshot_shows_the_merged_layers() {
    if !isolated!() {
        return;
    }
    let env = env();
    let id = two_layer_image(&env.store);
    let (dir, root) = env.container("ovl");
    let snap = env
        .store
        .create_snapshot("ovl", Some(&id), &dir, None)
        .expect("snapshot");
    assert_eq!(
        snap.driver,
        Driver::Overlay,
        "ext4 upper: overlay is picked"
    );
    assert_eq!(Snapshot::open(&dir).expect("reopen"), snap);
    {
        let _m = mounted(&env.store, &snap, &root);
        assert_merged_view(&root);
        edit_and_check_changes(&env.store, &snap, &root);
        assert_eq!(env.store.rw_size(&snap).expect("rw size"), 5 + 5);
        commit_and_check(&env, &snap, "ovl");
    }
    // An image with a child (the commit) loses its tag but stays, even forced.
    let items = env
        .store
        .remove("layered:1", true, false, &unused)
        .expect("rmi -f");
    assert_eq!(items, [DeleteItem::Untagged("layered:1".into())]);
    assert!(env.store.image(&id).expect("kept").dangling());
    let e = env
        .store
        .remove(id.hex(), true, false, &unused)
        .expect_err("child");
    assert!(e.message.contains("dependent child images"), "{e}");
    // Removing the child takes the untagged parent with it.
    let commit = env.store.resolve("committed:ovl").expect("commit");
    let items = env
        .store
        .remove("committed:ovl", false, false, &unused)
        .expect("rmi commit");
    assert_eq!(
        items,
        [
            DeleteItem::Untagged("committed:ovl".into()),
            DeleteItem::Deleted(commit),
            DeleteItem::Deleted(id.clone())
        ]
    );
    let upper_layer = env.store.lower_dirs(&snap)[0].clone();
    assert!(upper_layer.exists(), "layers of a live snapshot survive gc");
    env.store.remove_snapshot(&snap).expect("remove snapshot");
    env.store.gc().expect("gc");
    assert!(!dir.join("rw").exists());
}

#[test]
fn copy_snapshot_behaves_the_same() {
    if !isolated!() {
        return;
    }
    let env = env();
    let id = two_layer_image(&env.store);
    let (dir, root) = env.container("copy");
    let snap = env
        .store
        .create_snapshot("copy", Some(&id), &dir, Some(Driver::Copy))
        .expect("snapshot");
    assert_merged_view(&snap.upper_dir());
    let _m = mounted(&env.store, &snap, &root);
    assert_merged_view(&root);
    assert!(
        env.store.changes(&snap).expect("changes").is_empty(),
        "a fresh copy has no changes"
    );
    edit_and_check_changes(&env.store, &snap, &root);
    commit_and_check(&env, &snap, "copy");
}

#[test]
fn escaping_layers_are_refused_and_write_nothing_outside() {
    if !isolated!() {
        return;
    }
    let env = env();
    let outside = tempfile::tempdir().expect("outside");
    let out = outside.path().to_string_lossy().into_owned();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            TarBuilder::new().raw_file("../evil", b"x").finish(),
            "\"../evil\"",
        ),
        (
            "absolute",
            TarBuilder::new()
                .raw_file(&format!("{out}/abs"), b"x")
                .finish(),
            "absolute path",
        ),
        (
            "deep dotdot",
            TarBuilder::new().raw_file("a/../../evil", b"x").finish(),
            "escapes the root",
        ),
        (
            "through symlink",
            TarBuilder::new()
                .symlink("link", &out)
                .file("link/file", b"x")
                .finish(),
            "/link is a symlink",
        ),
        (
            "relative symlink",
            TarBuilder::new()
                .symlink("up", "../../../../../../")
                .file("up/tmp/evil", b"x")
                .finish(),
            "/up is a symlink",
        ),
        (
            "hardlink outside",
            TarBuilder::new()
                .raw_hardlink("hl", "../../../../../etc/passwd")
                .finish(),
            "hard link target",
        ),
        (
            "hardlink via symlink",
            TarBuilder::new()
                .symlink("s", "/etc")
                .hardlink("hl", "s/passwd")
                .finish(),
            "hard link target",
        ),
    ];
    for (what, layer, needle) in cases {
        let config = config_for(&[&layer], &["sh"]);
        let archive = docker_archive(&[(vec![layer], config.clone(), vec![])]);
        env.store
            .load(archive.as_slice(), &mut |_| {})
            .expect("load stores blobs only");
        let (dir, _) = env.container(&what.replace(' ', "-"));
        let e = env
            .store
            .create_snapshot(
                &what.replace(' ', "-"),
                Some(&digest(&config)),
                &dir,
                Some(Driver::Overlay),
            )
            .expect_err(what);
        assert!(e.message.contains(needle), "{what}: {e}");
        assert!(e.message.contains("refusing tar entry"), "{what}: {e}");
        assert!(
            names(outside.path()).is_empty(),
            "{what}: something was written outside"
        );
        assert!(!dir.join("rw").exists(), "{what}: failed snapshot left rw/");
    }
    let mut stray = vec![];
    for p in [
        env.dir.path().join("evil"),
        env.dir.path().join("image/evil"),
        env.dir.path().join("image/tmp/evil"),
        PathBuf::from("/tmp/evil"),
    ] {
        if p.exists() {
            stray.push(p);
        }
    }
    assert!(stray.is_empty(), "escaped files: {stray:?}");
    assert!(
        names(env.dir.path().join("image/tmp")).is_empty(),
        "half-unpacked layers left in tmp/"
    );
    assert!(
        names(env.dir.path().join("image/layers")).is_empty(),
        "a refused layer became visible"
    );
}

#[test]
fn busybox_root_runs_and_archives_like_docker_cp() {
    if !isolated!() {
        return;
    }
    let env = env();
    let id = env
        .store
        .import(
            busybox_rootfs().as_slice(),
            &ImportOptions {
                reference: Some("busybox".into()),
                ..Default::default()
            },
        )
        .expect("import");
    let (dir, root) = env.container("bb");
    let snap = env
        .store
        .create_snapshot("bb", Some(&id), &dir, None)
        .expect("snapshot");
    let _m = mounted(&env.store, &snap, &root);
    let out = std::process::Command::new("chroot")
        .arg(&root)
        .args([
            "/bin/sh",
            "-c",
            "echo hi > /tmp/x && rm /etc/group && cat /etc/passwd",
        ])
        .output()
        .expect("chroot");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("root:x:0:0:"));
    let changes = env.store.changes(&snap).expect("changes");
    assert_eq!(
        changes,
        [
            change("/etc", ChangeKind::Modified),
            change("/etc/group", ChangeKind::Deleted),
            change("/tmp", ChangeKind::Modified),
            change("/tmp/x", ChangeKind::Added)
        ]
    );
    assert_eq!(env.store.rw_size(&snap).expect("size"), 3);

    // docker cp ctr:/etc/passwd — a one-entry tar named by the base name.
    let mut tar = vec![];
    let st = berth_image::archive_path(&root, "/etc/passwd", &mut tar).expect("archive file");
    assert_eq!(
        (st.name.as_str(), st.mode, st.link_target.as_str()),
        ("passwd", 0o644, "")
    );
    let entries = tar_names(&tar);
    assert_eq!(entries, ["passwd"]);
    // A symlink is archived as itself; its stat names the target.
    let st = berth_image::stat_path(&root, "/bin/sh").expect("stat link");
    assert_eq!(
        (st.mode & (1 << 27) != 0, st.link_target.as_str()),
        (true, "/bin/busybox")
    );
    // A directory with its content; a missing path is NotFound.
    let mut tar = vec![];
    let st = berth_image::archive_path(&root, "/etc", &mut tar).expect("archive dir");
    assert!(st.mode & (1 << 31) != 0);
    assert_eq!(tar_names(&tar), ["etc/", "etc/passwd"]);
    // `dir/.`: the directory's content, named under `.`.
    let mut tar = vec![];
    let st = berth_image::archive_path(&root, "/etc/.", &mut tar).expect("archive dir/.");
    assert_eq!(st.name, ".");
    assert_eq!(tar_names(&tar), ["./", "./passwd"]);
    let e = berth_image::stat_path(&root, "/nope").expect_err("missing");
    assert_eq!(e.kind, berth_image::ErrorKind::NotFound);

    // docker cp into the container, including a symlink pointing outside: it resolves inside.
    let outside = tempfile::tempdir().expect("outside");
    std::fs::create_dir_all(root.join(outside.path().strip_prefix("/").expect("abs")))
        .expect("mirror dir");
    let body = TarBuilder::new()
        .dir("new", 0o755)
        .file_owned("new/f", b"copied", 0o600, 123, 456)
        .symlink("esc", &outside.path().to_string_lossy())
        .file("esc/planted", b"x")
        .finish();
    berth_image::extract_into(&root, "/tmp", body.as_slice(), false, Ownership::Keep)
        .expect("extract");
    let f = std::fs::metadata(root.join("tmp/new/f")).expect("copied file");
    assert_eq!(
        (f.uid(), f.gid(), f.permissions().mode() & 0o777),
        (123, 456, 0o600)
    );
    assert!(
        names(outside.path()).is_empty(),
        "cp wrote outside the container"
    );
    assert!(root
        .join(outside.path().strip_prefix("/").expect("abs"))
        .join("planted")
        .exists());
    let bad = TarBuilder::new().raw_file("../../x", b"x").finish();
    let e = berth_image::extract_into(&root, "/tmp", bad.as_slice(), false, Ownership::Keep)
        .expect_err("dotdot");
    assert!(e.message.contains("refusing tar entry \"../../x\""), "{e}");
    let e = berth_image::extract_into(
        &root,
        "/etc/passwd",
        TarBuilder::new().finish().as_slice(),
        false,
        Ownership::Keep,
    )
    .expect_err("not a dir");
    assert_eq!(e.message, "extraction point is not a directory");
    let dir_over_file = TarBuilder::new().file("tmp", b"x").finish();
    let e = berth_image::extract_into(&root, "/", dir_over_file.as_slice(), true, Ownership::Keep)
        .expect_err("no overwrite");
    assert!(e.message.contains("cannot overwrite directory"), "{e}");

    // docker export: the whole tree.
    let mut tar = vec![];
    berth_image::export(&root, &mut tar).expect("export");
    let all = tar_names(&tar);
    for want in ["bin/busybox", "bin/sh", "etc/passwd", "tmp/x", "tmp/new/f"] {
        assert!(
            all.iter().any(|n| n == want),
            "{want} not exported: {all:?}"
        );
    }
    assert!(!all.iter().any(|n| n == "etc/group"));
}

fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn overlay_refusing_the_upper_falls_back_to_copy() {
    if !isolated!() {
        return;
    }
    let env = env();
    let id = two_layer_image(&env.store);
    // Container directories on an overlayfs: overlayfs refuses an upper directory there.
    let outer = env.dir.path().join("outer");
    for d in ["l", "u", "w", "m"] {
        std::fs::create_dir_all(outer.join(d)).expect("outer dirs");
    }
    berth_image::mount_overlay(
        &[outer.join("l")],
        &outer.join("u"),
        &outer.join("w"),
        &outer.join("m"),
    )
    .expect("outer overlay");
    let m = outer.join("m");
    let _outer = Cleanup::new(move || {
        let _ = berth_image::unmount(&m);
    });
    let dir = outer.join("m/containers/nested");
    let root = dir.join("rootfs");
    std::fs::create_dir_all(&root).expect("rootfs");
    let snap = env
        .store
        .create_snapshot("nested", Some(&id), &dir, None)
        .expect("snapshot");
    assert_eq!(snap.driver, Driver::Copy);
    assert!(!dir.join("rw/.probe").exists(), "the probe cleans up");
    {
        let _m = mounted(&env.store, &snap, &root);
        assert_merged_view(&root);
        std::fs::write(root.join("etc/added"), "a").expect("write");
        assert_eq!(
            env.store.changes(&snap).expect("changes"),
            [
                change("/etc", ChangeKind::Modified),
                change("/etc/added", ChangeKind::Added)
            ]
        );
        assert_eq!(env.store.rw_size(&snap).expect("size"), 1);
    }
    env.store.remove_snapshot(&snap).expect("remove");
}
