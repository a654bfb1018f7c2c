//! The files under `tests/fixtures/`: API replies, webhook bodies, Lambda events and
//! order files, named by their path below that folder (`mirakl/or11-order-state.json`).

use std::path::PathBuf;

/// Where a fixture lives.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A text fixture.
pub fn text(name: &str) -> String {
    let path = path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// A fixture as it is on disk, for files that are not text (a PDF, a gzip) or whose
/// exact bytes matter.
pub fn bytes(name: &str) -> Vec<u8> {
    let path = path(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// An order file from `order-files/`, as it would be uploaded.
pub fn order_file(name: &str) -> Vec<u8> {
    bytes(&format!("order-files/{name}"))
}
