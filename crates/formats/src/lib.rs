//! Readers of the national extract files the registry imports.
//!
//! Each reader takes a [`std::io::BufRead`] handed in by its caller and yields one item per
//! record: a parsed row, or a rejection that names its place in the file and the reason. Readers
//! open no file, spawn no thread and never panic on input; a file that cannot be read at all (an
//! IO error, a missing header) is an error of the reader, not a rejection.
//!
//! - [`finess`]: the FINESS public extracts (etalab CSV, FINESS+ "Structures" JSON).
//! - [`extract`]: the Annuaire Santé flat extracts, PS_LibreAcces (public) and Pro Santé
//!   Connect (RASS), read and written.

pub mod extract;
pub mod finess;
mod text;
