//! `emtape pack`: a cassette as a pack (see [`crate::cassette::pack`]), whose response bodies
//! serve reads from the file as it answers.

use super::{Exit, Failure};
use crate::cassette::{Cassette, LoadedCassette, pack};
use crate::cli::PackArgs;

pub(super) fn pack(args: PackArgs) -> Result<Exit, Failure> {
    let input = &args.cassette;
    let out = args.out.clone().unwrap_or_else(|| input.with_extension("emtape"));
    let is_pack = pack::is_pack_file(input);
    if out == *input && !is_pack {
        return Err(Failure::bad_input(format!(
            "--out {}: that is the cassette itself; a pack is written beside it (its default is {})",
            out.display(),
            input.with_extension("emtape").display()
        )));
    }
    // A pack written again keeps its bodies where they are until the new one is whole.
    let loaded = Cassette::load_placed(input).map_err(|e| Failure::bad_input(e.to_string()))?;
    for w in loaded.warnings.iter().chain(&LoadedCassette::unparsable_bodies(&loaded)) {
        eprintln!("warning: {w}");
    }
    let packed = pack::write(&loaded, &out, crate::model::stored_catalog, Some(crate::lint::checked_when_packed))
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let size = |bytes: u64| match bytes {
        0..1_000_000 => format!("{:.1} KB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    };
    eprintln!(
        "packed {} exchanges of {} into {}: {} of YAML ({}), {} response bodies ({}), {} of catalog; \
         serve it with `emtape serve {}`",
        packed.exchanges,
        input.display(),
        out.display(),
        size(packed.file_bytes - packed.body_bytes - packed.catalog_bytes - packed.loaded_bytes),
        if packed.loaded_bytes == 0 {
            "not stored as read".to_owned()
        } else {
            format!("{} as read", size(packed.loaded_bytes))
        },
        packed.bodies,
        size(packed.body_bytes),
        size(packed.catalog_bytes),
        out.display()
    );
    Ok(Exit::Success)
}
