//! `berth-shim`: see the library's documentation and `docs/engine.md` ("The shim").

mod daemon;

fn main() {
    std::process::exit(daemon::main());
}
