//! `emtape fmt`: cassettes in their one canonical form, so diffs in review show only content.

use super::{Exit, Failure};
use crate::cassette::Cassette;
use crate::cli::FmtArgs;

pub(super) fn fmt(args: FmtArgs) -> Result<Exit, Failure> {
    let mut unformatted = 0;
    for path in &super::serve::expand_dirs(&args.cassettes)? {
        if crate::cassette::pack::is_pack_file(path) {
            return Err(Failure::bad_input(format!(
                "{}: a pack, which `emtape pack` writes; fmt formats YAML cassettes",
                path.display()
            )));
        }
        let loaded = Cassette::load(path).map_err(|e| Failure::bad_input(e.to_string()))?;
        let canonical = loaded.cassette.to_yaml();
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if canonical == current {
            continue;
        }
        if args.check {
            eprintln!("{} is not in canonical form; run `emtape fmt {}`", path.display(), path.display());
            unformatted += 1;
            continue;
        }
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, canonical)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("formatted {}", path.display());
    }
    Ok(if unformatted > 0 { Exit::Failed } else { Exit::Success })
}
