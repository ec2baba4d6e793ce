//! The pure domain of the RPPS+ registry.
//!
//! No IO, no async, no framework: only types that cannot hold invalid values and the rules of
//! the field. Reference data is embedded at compile time from `data/`.

pub mod ids;

pub use ids::{Adeli, Finess, IdError, Idnps, IdnpsKind, Rpps, Siren, Siret};
