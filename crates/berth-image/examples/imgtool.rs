//! A tiny command line over the store, for trying archives against other tools:
//! `imgtool <store> load <archive> | save <out> <ref>... | import <tar> <ref> | ls`.

use std::fs::File;
use std::io::{BufReader, BufWriter};

use berth_image::{ImportOptions, Store};

fn main() {
    if let Err(e) = run() {
        eprintln!("imgtool: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: imgtool <store> load <archive> | save <out> <ref>... | import <tar> <ref> | ls";
    let (root, cmd) = match args.as_slice() {
        [root, cmd, ..] => (root, cmd.as_str()),
        _ => return Err(usage.into()),
    };
    let store = Store::open(root)?;
    match (cmd, &args[2..]) {
        ("load", [path]) => {
            let loaded = store.load(BufReader::new(File::open(path)?), &mut |_| {})?;
            for m in loaded.messages {
                println!("{m}");
            }
        }
        ("save", [out, refs @ ..]) if !refs.is_empty() => {
            store.save(refs, BufWriter::new(File::create(out)?))?;
        }
        ("import", [path, reference]) => {
            let opts = ImportOptions {
                reference: Some(reference.clone()),
                ..Default::default()
            };
            println!(
                "{}",
                store.import(BufReader::new(File::open(path)?), &opts)?
            );
        }
        ("ls", []) => {
            for i in store.list()? {
                println!("{} {:?} {}", &i.id.hex()[..12], i.repo_tags, i.size);
            }
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
