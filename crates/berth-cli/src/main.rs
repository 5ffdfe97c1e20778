//! `berth`: see the library part of this crate for everything.

fn main() {
    let mut args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(a) => args.push(a),
            Err(bad) => {
                eprintln!("berth: argument {bad:?} is not valid UTF-8");
                std::process::exit(125);
            }
        }
    }
    std::process::exit(berth_cli::run(&args));
}
