//! `emtape import` and `emtape export`: HAR files in and out, around [`crate::har`].

use std::path::Path;

use super::{Exit, Failure};
use crate::cli::{ExportArgs, ImportArgs};
use crate::har;
use crate::record::{Recorder, RedactConfig, Sent};

pub(super) fn import(args: ImportArgs) -> Result<Exit, Failure> {
    super::output_folder("--out", &args.out)?;
    let name = args.har.display().to_string();
    let text =
        std::fs::read_to_string(&args.har).map_err(|e| Failure::bad_input(format!("cannot read {name}: {e}")))?;
    let read = har::read(&text).map_err(|e| Failure::bad_input(format!("{name}: {e}")))?;
    // The EM is the origin given, or the one most entries under /api/ went to.
    let origin = match &args.origin {
        Some(o) => super::server_url("--origin", o)?,
        None => {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for x in read.exchanges.iter().filter(|x| x.url.contains("/api/") || x.url.ends_with("/api")) {
                let Some(o) = har::origin_of(&x.url) else { continue };
                match counts.iter_mut().find(|(c, _)| c == o) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((o.to_owned(), 1)),
                }
            }
            counts.sort_by_key(|c| std::cmp::Reverse(c.1));
            counts.into_iter().next().map(|(o, _)| o).ok_or_else(|| {
                Failure::bad_input(format!("{name}: no entry goes to an EM (a URL under /api/); name it with --origin"))
            })?
        }
    };
    let redact = match &args.redact {
        Some(p) => RedactConfig::load(p).map_err(Failure::bad_input)?,
        None => RedactConfig::default(),
    };
    let recorder = Recorder::create(&args.out, &origin, &redact)
        .map_err(|e| Failure::bad_input(format!("cannot write the cassette {}: {e}", args.out.display())))?;
    let mut unusable = read.unusable;
    let mut used = 0;
    for x in &read.exchanges {
        if har::origin_of(&x.url).is_none_or(|o| !o.eq_ignore_ascii_case(&origin)) {
            unusable.push(format!("{} {}: another server than {origin}", x.method, x.url));
            continue;
        }
        recorder.record(&Sent { method: &x.method, url: &x.url, headers: &x.headers, body: &x.body }, &x.response);
        used += 1;
    }
    let written = recorder.finish().map_err(Failure::bad_input)?;
    println!(
        "emtape import {name} -> {}: {used} entries of {origin} recorded as {written} exchanges",
        args.out.display()
    );
    if written == 0 {
        println!("{}", crate::record::written(0, &args.out));
    }
    if !unusable.is_empty() {
        println!("{} entries left out:", unusable.len());
        for u in unusable.iter().take(10) {
            println!("  {u}");
        }
        if unusable.len() > 10 {
            println!("  … and {} more", unusable.len() - 10);
        }
    }
    Ok(if used == 0 { Exit::Failed } else { Exit::Success })
}

pub(super) fn export(args: ExportArgs) -> Result<Exit, Failure> {
    let loaded = crate::cassette::Cassette::load(&args.cassette).map_err(|e| Failure::bad_input(e.to_string()))?;
    let vbr = loaded.cassette.meta.api.as_deref().and_then(crate::vbr::Api::parse) == Some(crate::vbr::Api::Vbr);
    let default = if vbr { "https://vbr.example:9419" } else { "https://em.example:9398" };
    let text = har::write(&loaded, &super::server_url("--origin", args.origin.as_deref().unwrap_or(default))?);
    write(&args.har, &text)?;
    println!(
        "emtape export {} -> {}: {} entries",
        args.cassette.display(),
        args.har.display(),
        loaded.cassette.exchanges.len()
    );
    Ok(Exit::Success)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::bad_input(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, text).map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))
}
