//! The store without privileges: load (both archive formats), save → load, import,
//! resolve, tag, remove, prune, history.

mod common;

use berth_image::{DeleteItem, ErrorKind, ImportOptions, Reference, Store, Usage};
use common::*;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("image")).expect("open store");
    (dir, store)
}

fn busybox_archive() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let rootfs = busybox_rootfs();
    let config = config_for(&[&rootfs], &["sh"]);
    let archive = docker_archive(&[(vec![rootfs.clone()], config.clone(), vec!["busybox:latest"])]);
    (archive, rootfs, config)
}

#[test]
fn load_docker_archive_tags_and_resolves() {
    let (_d, store) = store();
    let (archive, rootfs, config) = busybox_archive();
    let mut progress = vec![];
    let loaded = store
        .load(archive.as_slice(), &mut |p| progress.push(p))
        .expect("load");
    assert_eq!(loaded.messages, ["Loaded image: busybox:latest"]);
    let id = digest(&config);
    assert_eq!(loaded.images, std::slice::from_ref(&id));
    assert_eq!(
        progress.last().map(|p| (p.current, p.total)),
        Some((rootfs.len() as u64, rootfs.len() as u64))
    );

    for input in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        &id.to_string(),
        id.hex(),
        &id.hex()[..12],
        &id.hex()[..3],
    ] {
        assert_eq!(store.resolve(input).ok().as_ref(), Some(&id), "{input}");
    }
    let e = store.resolve("busybox:1.0").expect_err("no such tag");
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::NotFound, "No such image: busybox:1.0")
    );
    let e = store.resolve("nosuch").expect_err("no such image");
    assert_eq!(e.message, "No such image: nosuch:latest");

    let images = store.list().expect("list");
    assert_eq!(images.len(), 1);
    let img = &images[0];
    assert_eq!(img.repo_tags, ["busybox:latest"]);
    assert!(!img.dangling());
    let busybox_size = std::fs::metadata("/bin/busybox").expect("busybox").len();
    let text =
        (b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
            .len()
            + b"root:x:0:\nnogroup:x:65534:\n".len()) as u64;
    // Docker counts what `lstat` says of every non-directory: symlinks are their target's length.
    let links = 9 * "busybox".len() as u64;
    assert_eq!(img.size, busybox_size + text + links);
    assert_eq!(img.config.config().cmd, Some(vec!["sh".to_string()]));
    assert_eq!(
        img.labels().get("org.test").map(String::as_str),
        Some("yes")
    );
    assert_eq!(img.created, 1_704_164_646);

    let h = store.history("busybox").expect("history");
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].id.as_ref(), h[0].size, h[0].created_by.as_str()),
        (Some(&id), 0, "CMD [\"sh\"]")
    );
    assert_eq!(
        (h[1].id.as_ref(), h[1].size),
        (None, busybox_size + text + links)
    );
    assert_eq!(h[0].tags, ["busybox:latest"]);
}

#[test]
fn load_shares_layers_and_follows_layer_symlinks() {
    let (_d, store) = store();
    let base = TarBuilder::new().file("a", b"a").finish();
    let top = TarBuilder::new().file("b", b"b").finish();
    let c1 = config_for(&[&base], &["one"]);
    let c2 = config_for(&[&base, &top], &["two"]);
    let archive = docker_archive(&[
        (vec![base.clone()], c1.clone(), vec!["one:1"]),
        (
            vec![base.clone(), top.clone()],
            c2.clone(),
            vec!["two:2", "localhost:5000/two:x"],
        ),
    ]);
    let loaded = store.load(archive.as_slice(), &mut |_| {}).expect("load");
    assert_eq!(
        loaded.messages,
        [
            "Loaded image: one:1",
            "Loaded image: two:2",
            "Loaded image: localhost:5000/two:x"
        ]
    );
    let two = store.image(&digest(&c2)).expect("two");
    assert_eq!(two.repo_tags, ["localhost:5000/two:x", "two:2"]);
    assert_eq!(two.layer_sizes, [1, 1]);
}

#[test]
fn load_oci_layout_with_platform_index_and_gzip_layers() {
    let (_d, store) = store();
    let rootfs = busybox_rootfs();
    let config = config_for(&[&rootfs], &["sh"]);
    let archive = oci_archive(
        &[rootfs],
        &config,
        Some("docker.io/library/busybox:1.36"),
        true,
    );
    let loaded = store.load(archive.as_slice(), &mut |_| {}).expect("load");
    assert_eq!(loaded.messages, ["Loaded image: busybox:1.36"]);
    assert_eq!(store.resolve("busybox:1.36").ok(), Some(digest(&config)));

    let config2 = config_for(&[b"".as_slice()], &["x"]);
    let empty_layer = TarBuilder::new().finish();
    let config2 = if digest(&empty_layer) == digest(b"") {
        config2
    } else {
        config_for(&[&empty_layer], &["x"])
    };
    let archive = oci_archive(&[empty_layer], &config2, None, false);
    let loaded = store
        .load(archive.as_slice(), &mut |_| {})
        .expect("load untagged");
    assert_eq!(
        loaded.messages,
        [format!("Loaded image ID: {}", digest(&config2))]
    );
    assert!(store.image(&digest(&config2)).expect("image").dangling());
}

#[test]
fn bad_archives_are_refused_with_a_reason() {
    let (_d, store) = store();
    let e = store
        .load(&b"not a tar at all, just some text"[..], &mut |_| {})
        .expect_err("garbage");
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");

    let empty = TarBuilder::new().file("hello", b"x").finish();
    let e = store
        .load(empty.as_slice(), &mut |_| {})
        .expect_err("no manifest");
    assert!(
        e.message.contains("neither manifest.json nor index.json"),
        "{e}"
    );

    // A blob whose content does not match its name.
    let bad = TarBuilder::new()
        .file("index.json", b"{}")
        .file(&format!("blobs/sha256/{}", digest(b"x").hex()), b"y")
        .finish();
    let e = store
        .load(bad.as_slice(), &mut |_| {})
        .expect_err("corrupt blob");
    assert!(e.message.contains("has content"), "{e}");

    // A layer whose content is not what the config says.
    let layer = TarBuilder::new().file("a", b"a").finish();
    let other = TarBuilder::new().file("a", b"b").finish();
    let config = config_for(&[&other], &["sh"]);
    let archive = docker_archive(&[(vec![layer], config, vec!["x:1"])]);
    let e = store
        .load(archive.as_slice(), &mut |_| {})
        .expect_err("diff id mismatch");
    assert!(
        e.message.contains("does not match the config's diff ID"),
        "{e}"
    );
    assert!(store.list().expect("list").is_empty());

    // A manifest naming a file the archive lacks.
    let t = TarBuilder::new()
        .file(
            "manifest.json",
            br#"[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l/layer.tar"]}]"#,
        )
        .finish();
    let e = store
        .load(t.as_slice(), &mut |_| {})
        .expect_err("missing config");
    assert!(e.message.contains("\"c.json\" is missing"), "{e}");
}

#[test]
fn save_then_load_round_trips() {
    let (_d, store) = store();
    let (archive, _, config) = busybox_archive();
    store.load(archive.as_slice(), &mut |_| {}).expect("load");
    store.tag("busybox", "me/box:v2").expect("tag");
    let mut out = vec![];
    store
        .save(&["busybox".into(), "me/box:v2".into()], &mut out)
        .expect("save");

    // What is inside: both formats' files, every path manifest.json names present.
    let mut names = vec![];
    let mut manifest = vec![];
    let mut a = tar::Archive::new(out.as_slice());
    for e in a.entries().expect("entries") {
        let mut e = e.expect("entry");
        let name = e.path().expect("path").to_string_lossy().into_owned();
        if name == "manifest.json" {
            std::io::Read::read_to_end(&mut e, &mut manifest).expect("read");
        }
        names.push(name);
    }
    for f in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(names.iter().any(|n| n == f), "{f} missing from {names:?}");
    }
    let m: serde_json::Value = serde_json::from_slice(&manifest).expect("manifest json");
    assert_eq!(
        m[0]["RepoTags"],
        serde_json::json!(["busybox:latest", "me/box:v2"])
    );
    for p in std::iter::once(&m[0]["Config"]).chain(m[0]["Layers"].as_array().expect("layers")) {
        let p = p.as_str().expect("path");
        assert!(names.iter().any(|n| n == p), "{p} not in archive");
    }

    let (_d2, other) = self::store();
    let loaded = other.load(out.as_slice(), &mut |_| {}).expect("load saved");
    assert_eq!(
        loaded.messages,
        ["Loaded image: busybox:latest", "Loaded image: me/box:v2"]
    );
    assert_eq!(other.resolve("me/box:v2").ok(), Some(digest(&config)));

    // By ID: no tags recorded.
    let mut out = vec![];
    other
        .save(&[digest(&config).hex()[..12].to_string()], &mut out)
        .expect("save by id");
    let (_d3, third) = self::store();
    let loaded = third.load(out.as_slice(), &mut |_| {}).expect("load");
    assert_eq!(
        loaded.messages,
        [format!("Loaded image ID: {}", digest(&config))]
    );
    let e = third
        .save(&["nosuch".into()], &mut Vec::new())
        .expect_err("unknown");
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[test]
fn import_applies_changes_and_detects_compression() {
    let (_d, store) = store();
    let rootfs = busybox_rootfs();
    let opts = ImportOptions {
        reference: Some("imported".into()),
        changes: vec![
            "CMD [\"sh\"]".into(),
            "ENV A=b".into(),
            "EXPOSE 80".into(),
            "WORKDIR /srv".into(),
        ],
        message: Some("from test".into()),
        platform: None,
    };
    let id = store
        .import(gzip(&rootfs).as_slice(), &opts)
        .expect("import gzip");
    let img = store.image(&id).expect("image");
    assert_eq!(img.repo_tags, ["imported:latest"]);
    assert_eq!(
        img.diff_ids,
        [digest(&rootfs)],
        "the layer is stored uncompressed, by diff ID"
    );
    let c = img.config.config();
    assert_eq!(c.cmd, Some(vec!["sh".into()]));
    assert_eq!(c.env, Some(vec!["A=b".into()]));
    assert_eq!(c.working_dir.as_deref(), Some("/srv"));
    assert!(c.exposed_ports.is_some_and(|p| p.contains_key("80/tcp")));
    assert_eq!(
        store.history("imported").expect("history")[0].comment,
        "from test"
    );

    let z = zstd::encode_all(rootfs.as_slice(), 3).expect("zstd");
    let id2 = store
        .import(z.as_slice(), &ImportOptions::default())
        .expect("import zstd");
    assert_eq!(
        store.image(&id2).expect("image").diff_ids,
        [digest(&rootfs)]
    );
    assert_eq!(
        store.history(id2.hex()).expect("history")[0].comment,
        "Imported from -"
    );

    let bad = ImportOptions {
        changes: vec!["RUN echo".into()],
        ..Default::default()
    };
    let e = store
        .import(rootfs.as_slice(), &bad)
        .expect_err("bad change");
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            ErrorKind::InvalidArgument,
            "RUN is not a valid change command"
        )
    );
    let e = store
        .import(&b"BZh91AY&SY"[..], &ImportOptions::default())
        .expect_err("bzip2");
    assert!(e.message.contains("bzip2"), "{e}");
}

#[test]
fn remove_follows_dockers_rules() {
    let (_d, store) = store();
    let (archive, _, config) = busybox_archive();
    store.load(archive.as_slice(), &mut |_| {}).expect("load");
    let id = digest(&config);
    store.tag("busybox", "other:1").expect("tag");
    assert_eq!(
        Reference::parse("other:1")
            .map(|r| r.familiar())
            .ok()
            .as_deref(),
        Some("other:1")
    );

    // Several references, by ID: conflict unless forced.
    let e = store
        .remove(&id.hex()[..12], false, false, &unused)
        .expect_err("several refs");
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(
        e.message.contains("referenced in multiple repositories"),
        "{e}"
    );

    // By reference, not the last: only untagged.
    let items = store
        .remove("other:1", false, false, &unused)
        .expect("untag");
    assert_eq!(items, [DeleteItem::Untagged("other:1".into())]);
    assert!(store.resolve("other:1").is_err());

    // Last reference while a stopped container uses it: conflict; forced: fine.
    let stopped = |_: &berth_image::Digest| {
        Some(Usage {
            container: "0123456789abcdef".into(),
            running: false,
        })
    };
    let running = |_: &berth_image::Digest| {
        Some(Usage {
            container: "0123456789abcdef".into(),
            running: true,
        })
    };
    let e = store
        .remove("busybox", false, false, &stopped)
        .expect_err("in use");
    assert!(
        e.message
            .contains("container 0123456789ab is using its referenced image"),
        "{e}"
    );
    let e = store
        .remove(id.hex(), true, false, &running)
        .expect_err("running");
    assert!(e.message.contains("cannot be forced"), "{e}");

    // Forced, while running: the reference goes, the image stays (dangling).
    store.tag("busybox", "busybox:second").expect("tag");
    let items = store
        .remove("busybox:second", true, false, &running)
        .expect("untag");
    assert_eq!(items, [DeleteItem::Untagged("busybox:second".into())]);

    let blob = store.blob_path(&store.image(&id).expect("img").diff_ids[0]);
    assert!(blob.exists());
    let items = store
        .remove("busybox", false, false, &unused)
        .expect("delete");
    assert_eq!(
        items,
        [
            DeleteItem::Untagged("busybox:latest".into()),
            DeleteItem::Deleted(id.clone())
        ]
    );
    assert!(store.list().expect("list").is_empty());
    assert!(!blob.exists(), "the layer blob is garbage-collected");
    assert!(
        !store.blob_path(&id).exists(),
        "the config blob is garbage-collected"
    );
}

#[test]
fn prune_removes_dangling_or_unused() {
    let (_d, store) = store();
    let a = TarBuilder::new().file("a", b"aaaa").finish();
    let b = TarBuilder::new().file("b", b"bb").finish();
    let ca = config_for(&[&a], &["a"]);
    let cb = config_for(&[&b], &["b"]);
    let archive = docker_archive(&[
        (vec![a], ca.clone(), vec![]),
        (vec![b], cb.clone(), vec!["kept:1"]),
    ]);
    store.load(archive.as_slice(), &mut |_| {}).expect("load");
    let (items, reclaimed) = store.prune(true, &unused).expect("prune dangling");
    assert_eq!(items, [DeleteItem::Deleted(digest(&ca))]);
    assert_eq!(reclaimed, 4);
    let in_use = |d: &berth_image::Digest| {
        (d == &digest(&cb)).then(|| Usage {
            container: "c".into(),
            running: true,
        })
    };
    let (items, _) = store.prune(false, &in_use).expect("prune all, in use");
    assert!(items.is_empty());
    let (items, _) = store.prune(false, &unused).expect("prune all");
    assert_eq!(
        items,
        [
            DeleteItem::Untagged("kept:1".into()),
            DeleteItem::Deleted(digest(&cb))
        ]
    );
}

#[test]
fn tags_must_be_valid_and_the_store_is_relocatable() {
    let (d, store) = store();
    let (archive, _, config) = busybox_archive();
    store.load(archive.as_slice(), &mut |_| {}).expect("load");
    assert_eq!(
        store
            .tag(
                "busybox",
                "x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            )
            .expect_err("digest")
            .kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        store.tag("busybox", "Upper").expect_err("upper").kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        store.tag("nosuch", "x").expect_err("missing").kind,
        ErrorKind::NotFound
    );
    drop(store);
    // Copy the whole data root elsewhere: everything still resolves.
    let moved = d.path().join("moved");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(d.path().join("image"))
        .arg(&moved)
        .status()
        .expect("cp");
    assert!(status.success());
    std::fs::remove_dir_all(d.path().join("image")).expect("remove original");
    let store = Store::open(&moved).expect("reopen");
    assert_eq!(store.resolve("busybox").ok(), Some(digest(&config)));
    let mut out = vec![];
    store
        .save(&["busybox".into()], &mut out)
        .expect("save from moved store");
}

#[test]
fn export_keeps_long_names_links_and_xattrs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long_dir = "d".repeat(90);
    let long_file = format!("{long_dir}/{}", "f".repeat(60));
    std::fs::create_dir(dir.path().join(&long_dir)).expect("mkdir");
    std::fs::write(dir.path().join(&long_file), "long").expect("write");
    let target = format!("/{}", "t".repeat(150));
    std::os::unix::fs::symlink(&target, dir.path().join("link")).expect("symlink");
    std::fs::write(dir.path().join("a"), "a").expect("write");
    std::fs::hard_link(dir.path().join("a"), dir.path().join("b")).expect("hard link");
    rustix::fs::setxattr(
        dir.path().join("a"),
        "user.note",
        b"kept",
        rustix::fs::XattrFlags::empty(),
    )
    .expect("xattr");

    let mut out = vec![];
    berth_image::export(dir.path(), &mut out).expect("export");
    let mut seen = std::collections::BTreeMap::new();
    let mut a = tar::Archive::new(out.as_slice());
    for e in a.entries().expect("entries") {
        let mut e = e.expect("entry");
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned());
        let mut xattr = None;
        if let Ok(Some(exts)) = e.pax_extensions() {
            for ext in exts.flatten() {
                if ext.key().ok() == Some("SCHILY.xattr.user.note") {
                    xattr = Some(ext.value_bytes().to_vec());
                }
            }
        }
        seen.insert(name, (e.header().entry_type(), link, xattr));
    }
    assert_eq!(
        seen.get(&long_file).map(|s| s.0),
        Some(tar::EntryType::Regular),
        "{seen:?}"
    );
    assert_eq!(seen.get("link").and_then(|s| s.1.clone()), Some(target));
    assert_eq!(
        seen.get("a").and_then(|s| s.2.clone()),
        Some(b"kept".to_vec())
    );
    assert_eq!(
        seen.get("b").map(|s| (s.0, s.1.clone())),
        Some((tar::EntryType::Link, Some("a".to_string())))
    );
    assert!(seen.contains_key(&format!("{long_dir}/")));
}
