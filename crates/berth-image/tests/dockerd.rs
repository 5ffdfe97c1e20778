//! Archives against the real thing: a private dockerd (in its own mount and network
//! namespace, no bridge, no iptables) loads what `Store::save` writes, and `Store::load`
//! reads what dockerd's `docker save` writes. Ignored by default: it needs `dockerd` and
//! the `docker` CLI installed (`cargo test -p berth-image --test dockerd -- --ignored`).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_image::{ImportOptions, Store};
use berth_testutil::{isolated, Cleanup};
use common::*;

fn docker(sock: &Path, args: &[&str]) -> String {
    let out = Command::new("docker")
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run docker {args:?}: {e}"));
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs dockerd and the docker CLI"]
fn dockerd_loads_our_archives_and_we_load_its() {
    if !isolated!() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let sock = d.join("docker.sock");
    let mut dockerd = Command::new("dockerd")
        .arg("--data-root")
        .arg(d.join("data"))
        .arg("--exec-root")
        .arg(d.join("exec"))
        .arg("--pidfile")
        .arg(d.join("dockerd.pid"))
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dockerd");
    let pid = dockerd.id() as i32;
    let _stop = Cleanup::new(move || {
        // SIGTERM: dockerd stops the containerd it started before exiting.
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).expect("pid"),
            rustix::process::Signal::TERM,
        );
        let _ = dockerd.wait();
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sock.exists()
        || !Command::new("docker")
            .env("DOCKER_HOST", format!("unix://{}", sock.display()))
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    {
        assert!(Instant::now() < deadline, "dockerd did not come up");
        std::thread::sleep(Duration::from_millis(200));
    }

    let store = Store::open(d.join("ours")).expect("store");
    let id = store
        .import(
            busybox_rootfs().as_slice(),
            &ImportOptions {
                reference: Some("mybox:1".into()),
                ..Default::default()
            },
        )
        .expect("import");
    store
        .tag("mybox:1", "localhost:5000/other/thing:2")
        .expect("tag");
    let ours = d.join("ours.tar");
    store
        .save(
            &["mybox:1".into(), "localhost:5000/other/thing:2".into()],
            std::fs::File::create(&ours).expect("create"),
        )
        .expect("save");

    let out = docker(&sock, &["load", "-i", &ours.to_string_lossy()]);
    assert_eq!(
        out,
        "Loaded image: mybox:1\nLoaded image: localhost:5000/other/thing:2\n"
    );
    let inspect = docker(
        &sock,
        &[
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{.Size}}",
            "mybox:1",
        ],
    );
    let image = store.image(&id).expect("image");
    assert_eq!(
        inspect.trim(),
        format!("{id} {}", image.size),
        "same ID and size as dockerd computes"
    );

    let theirs = d.join("theirs.tar");
    docker(
        &sock,
        &[
            "save",
            "-o",
            &theirs.to_string_lossy(),
            "mybox:1",
            "localhost:5000/other/thing:2",
        ],
    );
    let other = Store::open(d.join("other")).expect("store");
    let loaded = other
        .load(std::fs::File::open(&theirs).expect("open"), &mut |_| {})
        .expect("load dockerd's archive");
    assert_eq!(loaded.images, std::slice::from_ref(&id));
    assert_eq!(
        loaded.messages,
        [
            "Loaded image: mybox:1",
            "Loaded image: localhost:5000/other/thing:2"
        ]
    );
    assert_eq!(other.image(&id).expect("image").size, image.size);
}
