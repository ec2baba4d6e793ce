//! The pure domain of the RPPS+ registry.
//!
//! No IO, no async, no framework, no clock (callers pass `today`): only types that cannot hold
//! invalid values and the rules of the field. Reference data is embedded at compile time from
//! `data/`.

pub mod authz;
pub mod contact;
pub mod decision;
pub mod identity;
pub mod ids;
pub mod matching;
pub mod reference;
pub mod situation;
pub mod validation;

pub use contact::{Email, Mobile, MobileTerritory};
pub use identity::{
    CivilIdentity, Civility, IdDocument, IdDocumentKind, PersonName, RawCivilIdentity,
    RawIdDocument, Sex,
};
pub use ids::{Adeli, Finess, IdError, Idnps, IdnpsKind, Rpps, Siren, Siret};
pub use matching::{edit_distance, matching_key, same_name, within_one_typo};
pub use reference::{
    CodeStatus, DataError, DocumentAccess, DocumentKey, DocumentType, Profession, Role, Setting,
    TableId, document_type, documents_for_role, role_permits,
};
pub use validation::FieldError;
