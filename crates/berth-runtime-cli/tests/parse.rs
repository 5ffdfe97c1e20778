//! The command line as containerd, Docker, conmon, runtime-tools and youki's contest write
//! it: every flag form, options before and after the ID, exec's verbatim command, value
//! syntaxes (signals, sizes, durations). No root, no I/O.

use berth_runtime_cli::cli::{parse, Cli, Command, CreateArgs, ExecArgs, Format, ResourcesSource};
use berth_runtime_cli::logging::LogFormat;
use berth_runtime_cli::units::{parse_duration, parse_signal, parse_size};
use berth_spec::{Cpu, Memory, Resources};
use std::path::PathBuf;
use std::time::Duration;

fn cli(line: &str) -> Cli {
    let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    match parse(&args) {
        Ok(c) => c,
        Err(e) => panic!("{line:?} should parse: {e}"),
    }
}

fn cmd(line: &str) -> Command {
    cli(line).command
}

fn err(line: &str) -> String {
    let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    match parse(&args) {
        Ok(c) => panic!("{line:?} should fail, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn create(line: &str) -> CreateArgs {
    match cmd(line) {
        Command::Create(c) => c,
        other => panic!("{line:?}: not create: {other:?}"),
    }
}

fn exec(args: &[&str]) -> ExecArgs {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match parse(&args).map(|c| c.command) {
        Ok(Command::Exec(e)) => *e,
        other => panic!("{args:?}: not exec: {other:?}"),
    }
}

fn resources(line: &str) -> Resources {
    match cmd(line) {
        Command::Update {
            source: ResourcesSource::Flags(r),
            ..
        } => *r,
        other => panic!("{line:?}: not update from flags: {other:?}"),
    }
}

#[test]
fn global_options_in_every_spelling() {
    let c = cli(
        "--root /r --log /l.json --log-format json --debug --systemd-cgroup --criu /c \
                 --rootless auto state x",
    );
    assert_eq!(c.global.root, PathBuf::from("/r"));
    assert_eq!(c.global.log, Some(PathBuf::from("/l.json")));
    assert_eq!(c.global.log_format, LogFormat::Json);
    assert!(c.global.debug && c.global.systemd_cgroup);
    assert_eq!(c.global.rootless.as_deref(), Some("auto"));
    assert_eq!(c.command, Command::State("x".into()));

    let c = cli("-root=/r2 -log-format=text -rootless=false state x");
    assert_eq!(c.global.root, PathBuf::from("/r2"));
    assert_eq!(c.global.log_format, LogFormat::Text);

    let c = cli("state x");
    assert_eq!(c.global.root, PathBuf::from("/run/berth-runtime"));
    assert_eq!(c.global.log, None);
    assert!(!c.global.systemd_cgroup);

    assert!(err("--log-format xml state x").contains("log-format"));
    assert!(err("--rootless maybe state x").contains("rootless"));
    assert!(err("--root").contains("needs an argument"));
}

#[test]
fn version_and_help() {
    assert_eq!(cmd("--version"), Command::Version);
    assert_eq!(cmd("-v"), Command::Version);
    assert_eq!(cmd(""), Command::Help(None));
    assert_eq!(cmd("--help"), Command::Help(None));
    assert_eq!(cmd("-h"), Command::Help(None));
    assert_eq!(cmd("help exec"), Command::Help(Some("exec")));
    assert_eq!(cmd("state --help"), Command::Help(Some("state")));
    assert_eq!(cmd("exec -h"), Command::Help(Some("exec")));
    assert_eq!(cmd("ls --help"), Command::Help(Some("list")));
}

#[test]
fn create_flags_before_and_after_the_id() {
    let want = CreateArgs {
        id: "c1".into(),
        bundle: PathBuf::from("/b"),
        console_socket: Some(PathBuf::from("/s.sock")),
        pid_file: Some(PathBuf::from("/p.pid")),
        no_pivot: true,
        no_new_keyring: true,
        preserve_fds: 2,
    };
    for line in [
        // containerd / go-runc
        "create --bundle /b --pid-file /p.pid --console-socket /s.sock --no-pivot \
         --no-new-keyring --preserve-fds 2 c1",
        // youki's contest: ID first
        "create c1 --bundle /b --pid-file /p.pid --console-socket /s.sock --no-pivot \
         --no-new-keyring --preserve-fds 2",
        "create --bundle=/b --pid-file=/p.pid --console-socket=/s.sock --no-pivot=true \
         --no-new-keyring --preserve-fds=2 c1",
        // Go's flag package: single-dash long names
        "create -bundle /b -pid-file /p.pid -console-socket=/s.sock -no-pivot \
         -no-new-keyring -preserve-fds 2 c1",
        "create -b /b c1 --pid-file /p.pid --console-socket /s.sock --no-pivot \
         --no-new-keyring --preserve-fds 2",
    ] {
        assert_eq!(create(line), want, "{line}");
    }
    let defaults = create("create c2");
    assert_eq!(defaults.bundle, PathBuf::from("."));
    assert_eq!(
        (defaults.pid_file, defaults.preserve_fds, defaults.no_pivot),
        (None, 0, false)
    );
    assert!(!create("create --no-pivot=false c3").no_pivot);
    // go-runc adds --detach to create when CreateOpts.Detach is set.
    assert_eq!(
        create("create --detach --bundle /b c4").bundle,
        PathBuf::from("/b")
    );
}

#[test]
fn create_argument_errors() {
    assert_eq!(err("create"), "\"create\" requires exactly 1 argument(s)");
    assert_eq!(
        err("create a b"),
        "\"create\" requires exactly 1 argument(s)"
    );
    assert_eq!(
        err("create --bogus c"),
        "flag provided but not defined: -bogus"
    );
    assert!(err("create --preserve-fds many c").contains("preserve-fds"));
    assert!(err("create c --bundle").contains("needs an argument"));
    assert!(err("create --no-pivot=maybe c").contains("boolean"));
}

#[test]
fn run_flags() {
    match cmd("run -d --keep -b /b --pid-file /p c1") {
        Command::Run {
            create,
            detach,
            keep,
        } => {
            assert!(detach && keep);
            assert_eq!(create.id, "c1");
            assert_eq!(create.bundle, PathBuf::from("/b"));
        }
        other => panic!("{other:?}"),
    }
    match cmd("run c1 --detach=false --no-subreaper") {
        Command::Run { detach, keep, .. } => assert!(!detach && !keep),
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_id_commands() {
    assert_eq!(cmd("start c"), Command::Start("c".into()));
    assert_eq!(cmd("state c"), Command::State("c".into()));
    assert_eq!(cmd("pause c"), Command::Pause("c".into()));
    assert_eq!(cmd("resume c"), Command::Resume("c".into()));
    assert_eq!(err("state"), "\"state\" requires exactly 1 argument(s)");
    assert_eq!(err("start a b"), "\"start\" requires exactly 1 argument(s)");
    assert_eq!(
        cmd("delete c"),
        Command::Delete {
            id: "c".into(),
            force: false
        }
    );
    assert_eq!(
        cmd("delete --force c"),
        Command::Delete {
            id: "c".into(),
            force: true
        }
    );
    assert_eq!(
        cmd("delete c -f"),
        Command::Delete {
            id: "c".into(),
            force: true
        }
    );
    assert_eq!(
        cmd("checkpoint --image-path /x c"),
        Command::Unsupported("checkpoint")
    );
    assert_eq!(cmd("restore --anything c"), Command::Unsupported("restore"));
    assert_eq!(err("frobnicate c"), "unknown command \"frobnicate\"");
}

#[test]
fn kill_signals() {
    let kill = |line: &str| match cmd(line) {
        Command::Kill { id, signal, all } => (id, signal, all),
        other => panic!("{other:?}"),
    };
    assert_eq!(kill("kill c"), ("c".into(), libc::SIGTERM, false));
    assert_eq!(kill("kill c KILL"), ("c".into(), libc::SIGKILL, false));
    assert_eq!(kill("kill c SIGKILL").1, libc::SIGKILL);
    assert_eq!(kill("kill c sigusr1").1, libc::SIGUSR1);
    assert_eq!(kill("kill c hup").1, libc::SIGHUP);
    assert_eq!(kill("kill c 9").1, 9);
    assert_eq!(kill("kill --all c TERM"), ("c".into(), libc::SIGTERM, true));
    assert_eq!(kill("kill c -a KILL"), ("c".into(), libc::SIGKILL, true));
    assert!(kill("kill c KILL --all=true").2);
    assert_eq!(err("kill"), "\"kill\" requires a minimum of 1 argument(s)");
    assert_eq!(
        err("kill c 9 extra"),
        "\"kill\" requires a maximum of 2 argument(s)"
    );
    assert_eq!(err("kill c SIGFOO"), "unknown signal \"SIGFOO\"");
}

#[test]
fn signal_names_and_numbers() {
    assert_eq!(parse_signal("SIGWINCH"), Ok(libc::SIGWINCH));
    assert_eq!(parse_signal("Winch"), Ok(libc::SIGWINCH));
    assert_eq!(parse_signal("0"), Ok(0));
    assert_eq!(parse_signal("RTMIN"), Ok(libc::SIGRTMIN()));
    assert_eq!(parse_signal("SIGRTMIN+3"), Ok(libc::SIGRTMIN() + 3));
    assert_eq!(parse_signal("RTMAX-1"), Ok(libc::SIGRTMAX() - 1));
    assert_eq!(parse_signal("SIGRTMAX"), Ok(libc::SIGRTMAX()));
    for bad in [
        "", "SIG", "-1", "65", "1000", "RTMIN+99", "RTMIN-1", "KILLX",
    ] {
        assert!(parse_signal(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn exec_command_is_verbatim_after_the_id_and_command() {
    let e = exec(&["exec", "-t", "c", "sh", "-c", "echo hi", "--tty", "-e"]);
    assert_eq!(e.id, "c");
    assert_eq!(e.command, ["sh", "-c", "echo hi", "--tty", "-e"]);
    assert_eq!(e.tty, Some(true));

    // contest style: options between the ID and the command.
    let e = exec(&["exec", "c", "--tty", "-e", "A=1", "--cwd=/tmp", "ls", "-la"]);
    assert_eq!(e.command, ["ls", "-la"]);
    assert_eq!(e.env, ["A=1"]);
    assert_eq!(e.cwd.as_deref(), Some("/tmp"));
    assert_eq!(e.tty, Some(true));

    let e = exec(&["exec", "c", "--", "ls", "-l", "--", "x"]);
    assert_eq!(e.command, ["ls", "-l", "--", "x"]);
    assert_eq!(e.tty, None);

    // clustered one-letter switches, as people type for docker.
    let e = exec(&["exec", "-dt", "c", "top"]);
    assert!(e.detach);
    assert_eq!(e.tty, Some(true));
    let e = exec(&["exec", "-tu1000", "c", "id"]);
    assert_eq!((e.tty, e.user), (Some(true), Some((1000, None))));
}

#[test]
fn exec_process_options() {
    let e = exec(&[
        "exec",
        "--detach",
        "--pid-file",
        "/p",
        "--console-socket=/s",
        "-u",
        "1000:100",
        "-g",
        "10",
        "--additional-gids=20,30",
        "--cap",
        "CAP_NET_ADMIN",
        "-c",
        "CAP_SYS_TIME",
        "--no-new-privs",
        "--apparmor",
        "prof",
        "--process-label",
        "lbl",
        "--preserve-fds",
        "1",
        "--cgroup",
        "cpu:sub",
        "--ignore-paused",
        "--env",
        "A=1",
        "-e",
        "B=2",
        "c",
        "true",
    ]);
    assert!(e.detach && e.ignore_paused);
    assert_eq!(e.pid_file, Some(PathBuf::from("/p")));
    assert_eq!(e.console_socket, Some(PathBuf::from("/s")));
    assert_eq!(e.user, Some((1000, Some(100))));
    assert_eq!(e.additional_gids, [10, 20, 30]);
    assert_eq!(e.caps, ["CAP_NET_ADMIN", "CAP_SYS_TIME"]);
    assert_eq!(e.no_new_privs, Some(true));
    assert_eq!(e.apparmor.as_deref(), Some("prof"));
    assert_eq!(e.process_label.as_deref(), Some("lbl"));
    assert_eq!(e.preserve_fds, 1);
    assert_eq!(e.cgroup.as_deref(), Some("cpu:sub"));
    assert_eq!(e.env, ["A=1", "B=2"]);
    assert_eq!(e.command, ["true"]);

    // conmon: --process replaces the command line's process.
    let e = exec(&[
        "exec",
        "-d",
        "--pid-file",
        "/p",
        "--process",
        "/proc.json",
        "c",
    ]);
    assert_eq!(e.process, Some(PathBuf::from("/proc.json")));
    assert!(e.command.is_empty());
    let e = exec(&["exec", "c", "-p=/proc.json"]);
    assert_eq!(e.process, Some(PathBuf::from("/proc.json")));
}

#[test]
fn exec_errors() {
    assert!(err("exec").contains("container ID"));
    assert!(err("exec c").contains("command"));
    assert!(err("exec -u abc c true").contains("user"));
    assert!(err("exec -u 1:x c true").contains("user"));
    assert!(err("exec --cgroup a --cgroup b c true").contains("cgroup"));
    assert_eq!(
        err("exec --bogus c true"),
        "flag provided but not defined: -bogus"
    );
}

#[test]
fn exec_overrides_the_container_process() {
    let base = berth_spec::Process {
        terminal: true,
        args: vec!["sh".into()],
        env: vec!["PATH=/bin".into(), "A=old".into()],
        cwd: "/".into(),
        ..Default::default()
    };
    let e = exec(&[
        "exec", "-e", "A=new", "-e", "B=1", "--cwd", "/w", "-u", "5:6", "-g", "7", "-c", "CAP_X",
        "c", "ls", "-l",
    ]);
    let p = berth_runtime_cli::exec_process_from_args(base, &e);
    assert_eq!(p.args, ["ls", "-l"]);
    assert_eq!(p.env, ["PATH=/bin", "A=new", "B=1"]);
    assert_eq!(p.cwd, "/w");
    assert!(!p.terminal, "no terminal unless --tty");
    assert_eq!(
        (p.user.uid, p.user.gid, p.user.additional_gids.clone()),
        (5, 6, vec![7])
    );
    let caps = p.capabilities.unwrap_or_default();
    for set in [caps.bounding, caps.effective, caps.permitted] {
        assert_eq!(set, Some(vec!["CAP_X".to_string()]));
    }
    // As runc since CVE-2022-29162: --cap never adds inheritable or ambient capabilities.
    assert_eq!(caps.inheritable, None);
    assert_eq!(caps.ambient, None);
}

#[test]
fn ps_arguments_after_the_id_go_to_ps() {
    let ps = |line: &str| match cmd(line) {
        Command::Ps {
            id,
            format,
            ps_args,
        } => (id, format, ps_args),
        other => panic!("{other:?}"),
    };
    assert_eq!(ps("ps c"), ("c".into(), Format::Table, vec![]));
    assert_eq!(
        ps("ps c -- -ef"),
        ("c".into(), Format::Table, vec!["-ef".to_string()])
    );
    assert_eq!(ps("ps c aux").2, ["aux"]);
    assert_eq!(ps("ps c -f").2, ["-f"], "after the ID, -f is ps's own");
    assert_eq!(ps("ps --format json c"), ("c".into(), Format::Json, vec![]));
    assert_eq!(ps("ps --format=json c").1, Format::Json);
    assert_eq!(ps("ps -f json c").1, Format::Json);
    assert!(err("ps").contains("minimum of 1"));
    assert!(err("ps --format yaml c").contains("invalid format"));
}

#[test]
fn list_flags() {
    assert_eq!(
        cmd("list"),
        Command::List {
            format: Format::Table,
            quiet: false
        }
    );
    assert_eq!(
        cmd("ls -q"),
        Command::List {
            format: Format::Table,
            quiet: true
        }
    );
    assert_eq!(
        cmd("list --format=json"),
        Command::List {
            format: Format::Json,
            quiet: false
        }
    );
    assert_eq!(
        cmd("list -f json --quiet"),
        Command::List {
            format: Format::Json,
            quiet: true
        }
    );
    assert!(err("list c").contains("exactly 0"));
}

#[test]
fn update_from_flags() {
    const MIB: i64 = 1024 * 1024;
    let r = resources("update --memory 512m --memory-reservation=256M c");
    assert_eq!(
        r.memory,
        Some(Memory {
            limit: Some(512 * MIB),
            reservation: Some(256 * MIB),
            ..Default::default()
        })
    );
    assert_eq!((r.cpu, r.pids, r.block_io), (None, None, None));

    let r = resources("update c --memory -1");
    let mem = r.memory.unwrap_or_default();
    assert_eq!(
        (mem.limit, mem.swap),
        (Some(-1), Some(-1)),
        "unlimited memory lifts swap"
    );

    let r = resources(
        "update --memory 1g --memory-swap 2g --kernel-memory 10k --kernel-memory-tcp 1kb c",
    );
    let mem = r.memory.unwrap_or_default();
    assert_eq!(mem.limit, Some(1024 * MIB));
    assert_eq!(mem.swap, Some(2048 * MIB));
    assert_eq!((mem.kernel, mem.kernel_tcp), (Some(10 * 1024), Some(1024)));

    let r = resources(
        "update --cpu-shares 512 --cpu-quota -1 --cpu-period 100000 --cpu-rt-period 1000000 \
         --cpu-rt-runtime 950000 --cpuset-cpus 0-1 --cpuset-mems 0 c",
    );
    assert_eq!(
        r.cpu,
        Some(Cpu {
            shares: Some(512),
            quota: Some(-1),
            period: Some(100000),
            realtime_runtime: Some(950000),
            realtime_period: Some(1000000),
            cpus: Some("0-1".into()),
            mems: Some("0".into()),
            ..Default::default()
        })
    );
    assert_eq!(
        resources("update --cpu-share 2 c")
            .cpu
            .and_then(|c| c.shares),
        Some(2)
    );
    assert_eq!(
        resources("update --pids-limit 100 c").pids.map(|p| p.limit),
        Some(100)
    );
    assert_eq!(
        resources("update --pids-limit=-1 c").pids.map(|p| p.limit),
        Some(-1)
    );
    assert_eq!(
        resources("update --pids-limit 0 c").pids,
        None,
        "0 leaves it unchanged"
    );
    assert_eq!(
        resources("update --blkio-weight 300 c")
            .block_io
            .and_then(|b| b.weight),
        Some(300)
    );
    assert_eq!(resources("update c"), Resources::default());

    assert!(err("update --memory lots c").contains("--memory"));
    assert!(err("update --cpu-period -5 c").contains("cpu-period"));
    assert!(err("update --blkio-weight 70000 c").contains("blkio-weight"));
    assert!(err("update --l3-cache-schema L3:0=f c").contains("not supported"));
    assert!(err("update --mem-bw-schema MB:0=50 c").contains("not supported"));
}

#[test]
fn update_from_a_file_or_stdin() {
    for (line, want) in [
        ("update --resources /r.json c", "/r.json"),
        ("update -r - c", "-"),
        ("update c -r=- --memory 1g", "-"),
    ] {
        match cmd(line) {
            Command::Update { id, source } => {
                assert_eq!(id, "c");
                assert_eq!(source, ResourcesSource::File(want.into()));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn sizes_like_go_units() {
    for (s, want) in [
        ("0", 0),
        ("10", 10),
        ("10b", 10),
        ("10k", 10 * 1024),
        ("10K", 10 * 1024),
        ("10kb", 10 * 1024),
        ("10KiB", 10 * 1024),
        ("100 m", 100 << 20),
        ("1.5g", 3 << 29),
        ("2G", 2 << 30),
        ("1t", 1 << 40),
        ("1p", 1 << 50),
        ("-1", -1),
    ] {
        assert_eq!(parse_size(s), Ok(want), "{s:?}");
    }
    for bad in [
        "", "k", "abc", "10x", "1.2.3", ".5k", "5.k", "10kk", "-2", "1 0",
    ] {
        assert!(parse_size(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn durations_like_go() {
    for (s, want) in [
        ("5s", Duration::from_secs(5)),
        ("500ms", Duration::from_millis(500)),
        ("1m30s", Duration::from_secs(90)),
        ("1.5s", Duration::from_millis(1500)),
        ("2h", Duration::from_secs(7200)),
        ("10us", Duration::from_micros(10)),
        ("0", Duration::ZERO),
    ] {
        assert_eq!(parse_duration(s), Ok(want), "{s:?}");
    }
    for bad in ["", "5", "s", "5x", "-1s"] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn events_spec_features() {
    assert_eq!(
        cmd("events c"),
        Command::Events {
            id: "c".into(),
            stats_once: false,
            interval: Duration::from_secs(5)
        }
    );
    assert_eq!(
        cmd("events --stats --interval=1s c"),
        Command::Events {
            id: "c".into(),
            stats_once: true,
            interval: Duration::from_secs(1)
        }
    );
    assert!(err("events --interval 0s c").contains("greater than 0"));
    assert!(err("events --interval soon c").contains("duration"));
    assert_eq!(
        cmd("spec"),
        Command::Spec {
            bundle: ".".into(),
            rootless: false
        }
    );
    assert_eq!(
        cmd("spec -b /x --rootless"),
        Command::Spec {
            bundle: "/x".into(),
            rootless: true
        }
    );
    assert_eq!(cmd("features"), Command::Features);
    assert!(err("features x").contains("exactly 0"));
}

#[test]
fn resources_documents_read_like_runc_update() {
    // What containerd sends for `docker update --memory 64m`: zeros mean "unchanged".
    let doc = br#"{"memory":{"limit":67108864,"reservation":0,"swap":0,"kernel":0,"kernelTCP":0},
        "cpu":{"shares":0,"quota":0,"period":0,"realtimeRuntime":0,"realtimePeriod":0,"cpus":"","mems":""},
        "blockIO":{"weight":0},"pids":{"limit":0}}"#;
    let r = berth_runtime_cli::parse_resources(doc, "-").map(berth_runtime_cli::unchanged_as_none);
    let want = Resources {
        memory: Some(Memory {
            limit: Some(64 << 20),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(r.ok(), Some(want));

    let doc = br#"{"cpu":{"quota":-1,"cpus":"0"},"pids":{"limit":-1},"blockIO":{"weight":500}}"#;
    let r = berth_runtime_cli::parse_resources(doc, "r.json")
        .map(berth_runtime_cli::unchanged_as_none)
        .unwrap_or_default();
    assert_eq!(r.cpu.as_ref().and_then(|c| c.quota), Some(-1));
    assert_eq!(
        r.cpu.as_ref().and_then(|c| c.cpus.clone()).as_deref(),
        Some("0")
    );
    assert_eq!(r.pids.map(|p| p.limit), Some(-1));
    assert_eq!(r.block_io.and_then(|b| b.weight), Some(500));

    let err = berth_runtime_cli::parse_resources(b"{\"memory\":", "-")
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("<stdin>")));
}
