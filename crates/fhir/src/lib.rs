//! The public directory in FHIR R4, compatible with the national Annuaire Santé API v2:
//! resources shaped after the ANS IG public-data profiles, search parameters parsed and
//! checked, searchset Bundles, OperationOutcomes and the CapabilityStatement.
//!
//! Pure: no IO, no clock, no storage. The use-case layer reads the registry, turns its rows
//! into the views of [`resources`] and its queries from [`search::Search`]; the web layer
//! serves the JSON.

pub mod bundle;
pub mod codes;
pub mod outcome;
pub mod resources;
pub mod search;

pub use bundle::{Page, capability_statement, searchset};
pub use outcome::Outcome;
pub use resources::{
    ExerciseView, OrganizationView, PractitionerView, RoleView, organization, practitioner,
    practitioner_role,
};
pub use search::{Criterion, Cursor, ResourceType, Search, parse_search};

/// The media type of every answer.
pub const FHIR_JSON: &str = "application/fhir+json";
