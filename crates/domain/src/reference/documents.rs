//! DMP / Mon espace santé document types and which RPPS+ role may access which type.

use serde::Deserialize;

use super::roles::Roles;
use super::{DataError, embedded, non_empty, read_csv};

/// A document type code: a LOINC code or a TRE_A05 code, with its FHIR `system`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentKey {
    /// `http://loinc.org` or the TRE_A05 system.
    pub system: String,
    /// The code, e.g. `11488-4` or `PRESC-BIO`.
    pub code: String,
}

impl DocumentKey {
    fn is(&self, system: &str, code: &str) -> bool {
        self.system == system && self.code == code
    }
}

/// A document type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentType {
    /// Its code.
    pub key: DocumentKey,
    /// The official display (or the seed's wording when no official entry was found).
    pub label: String,
    /// The seed's wording, when the type is one of the seed's.
    pub seed_label: Option<String>,
    /// The TRE_A03 document class code, when known.
    pub class_code: Option<String>,
    /// The TRE_A03 document class label, when known.
    pub class_label: Option<String>,
    /// Whether the code was chosen by us because no official mapping of the seed's label
    /// exists (see `note`).
    pub inferred: bool,
    /// For a successor code: the code it stands for in the access matrix.
    pub same_as: Option<DocumentKey>,
    /// Explanation of a mapping or of a code's history.
    pub note: Option<String>,
}

/// One cell of the access matrix: a role may access a document type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentAccess {
    /// The TRE_R22 role code (GENR08–GENR12).
    pub role_code: String,
    /// The document type as named in the seed.
    pub document_label_in_seed: String,
    /// The document type code.
    pub document: DocumentKey,
    /// Explanation of the code chosen, when it is not a plain official mapping.
    pub note: Option<String>,
}

/// Document types and the role × document-type matrix of the seed.
#[derive(Debug, Clone)]
pub struct DocumentMatrix {
    types: Vec<DocumentType>,
    access: Vec<DocumentAccess>,
}

#[derive(Deserialize)]
struct TypeRow {
    label_in_seed: String,
    code: String,
    code_system: String,
    display: String,
    #[serde(rename = "class_code_TRE_A03")]
    class_code: String,
    class_display: String,
    note: String,
}

#[derive(Deserialize)]
struct AccessRow {
    role_code: String,
    document_label_in_seed: String,
    document_code: String,
    document_code_system: String,
    note: String,
}

#[derive(Deserialize)]
struct AliasRow {
    code_system: String,
    code: String,
    label: String,
    #[serde(rename = "class_code_TRE_A03")]
    class_code: String,
    class_display: String,
    same_as_code_system: String,
    same_as_code: String,
    note: String,
}

impl DocumentMatrix {
    pub(super) fn load(roles: &Roles) -> Result<Self, DataError> {
        let (file, text) = embedded!("dmp_document_types.csv");
        let mut types: Vec<DocumentType> = read_csv(file, text, |r: TypeRow| {
            Ok(if r.code.trim().is_empty() {
                // A seed label with no official code; the access matrix decides what to use.
                None
            } else {
                Some(DocumentType {
                    key: DocumentKey {
                        system: r.code_system,
                        code: r.code,
                    },
                    label: r.display,
                    seed_label: non_empty(r.label_in_seed),
                    class_code: non_empty(r.class_code),
                    class_label: non_empty(r.class_display),
                    inferred: false,
                    same_as: None,
                    note: non_empty(r.note),
                })
            })
        })?
        .into_iter()
        .flatten()
        .collect();

        let (file, text) = embedded!("role_document_access.csv");
        let access = read_csv(file, text, |r: AccessRow| {
            if !roles.is_rpps_plus_role(&r.role_code) {
                return Err(format!("{} is not an RPPS+ role", r.role_code));
            }
            Ok(DocumentAccess {
                role_code: r.role_code,
                document_label_in_seed: r.document_label_in_seed,
                document: DocumentKey {
                    system: r.document_code_system,
                    code: r.document_code,
                },
                note: non_empty(r.note),
            })
        })?;
        for (i, a) in access.iter().enumerate() {
            if access[..i]
                .iter()
                .any(|b| b.role_code == a.role_code && b.document == a.document)
            {
                return Err(DataError::new(
                    file,
                    None,
                    format!("duplicate cell {} × {}", a.role_code, a.document.code),
                ));
            }
            // Codes the matrix had to infer have no row in the type list; record them so that
            // every code of the matrix can be looked up.
            if !types.iter().any(|t| t.key == a.document) {
                types.push(DocumentType {
                    key: a.document.clone(),
                    label: a.document_label_in_seed.clone(),
                    seed_label: Some(a.document_label_in_seed.clone()),
                    class_code: None,
                    class_label: None,
                    inferred: true,
                    same_as: None,
                    note: a.note.clone(),
                });
            }
        }

        let (file, text) = embedded!("document_type_aliases.csv");
        let aliases = read_csv(file, text, |r: AliasRow| {
            let same_as = DocumentKey {
                system: r.same_as_code_system,
                code: r.same_as_code,
            };
            if !types.iter().any(|t| t.key == same_as) {
                return Err(format!("alias target {} is not a known type", same_as.code));
            }
            Ok(DocumentType {
                key: DocumentKey {
                    system: r.code_system,
                    code: r.code,
                },
                label: r.label,
                seed_label: None,
                class_code: non_empty(r.class_code),
                class_label: non_empty(r.class_display),
                inferred: false,
                same_as: Some(same_as),
                note: non_empty(r.note),
            })
        })?;
        for alias in aliases {
            if types.iter().any(|t| t.key == alias.key) {
                return Err(DataError::new(
                    file,
                    None,
                    format!("alias {} is already a document type", alias.key.code),
                ));
            }
            types.push(alias);
        }

        Ok(DocumentMatrix { types, access })
    }

    /// Every known document type: the seed's, inferred ones, then successor codes.
    pub fn types(&self) -> &[DocumentType] {
        &self.types
    }

    /// A document type by its code.
    pub fn document_type(&self, system: &str, code: &str) -> Option<&DocumentType> {
        self.types.iter().find(|t| t.key.is(system, code))
    }

    /// The whole matrix, in file order.
    pub fn cells(&self) -> &[DocumentAccess] {
        &self.access
    }

    /// The matrix cells of a role, in the seed's order (empty for a role outside the matrix).
    pub fn documents_for_role(&self, role_code: &str) -> Vec<&DocumentAccess> {
        self.access
            .iter()
            .filter(|a| a.role_code == role_code)
            .collect()
    }

    /// Every code a role may access, successor codes included, e.g. to configure a filter.
    pub fn accepted_types_for_role(&self, role_code: &str) -> Vec<&DocumentType> {
        self.types
            .iter()
            .filter(|t| self.role_permits(role_code, &t.key.system, &t.key.code))
            .collect()
    }

    /// Whether a role may access documents of type (`system`, `code`); a successor code counts
    /// as the code it stands for.
    pub fn role_permits(&self, role_code: &str, system: &str, code: &str) -> bool {
        let canonical = match self
            .document_type(system, code)
            .and_then(|t| t.same_as.as_ref())
        {
            Some(target) => target,
            None => {
                return self
                    .access
                    .iter()
                    .any(|a| a.role_code == role_code && a.document.is(system, code));
            }
        };
        self.access
            .iter()
            .any(|a| a.role_code == role_code && &a.document == canonical)
    }
}

#[cfg(test)]
mod tests {
    use crate::reference::{document_type, documents_for_role, role_permits, tables};

    const LOINC: &str = "http://loinc.org";
    const A05: &str = "https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaire/FHIR/TRE-A05-TypeDocComplementaire";

    #[test]
    fn matrix_counts_per_role() {
        for (role, n) in [
            ("GENR08", 34),
            ("GENR09", 5),
            ("GENR10", 9),
            ("GENR11", 26),
            ("GENR12", 13),
            ("GENR01", 0),
            ("nope", 0),
        ] {
            assert_eq!(documents_for_role(role).len(), n, "{role}");
        }
    }

    #[test]
    fn permissions() {
        assert!(role_permits("GENR08", LOINC, "11488-4"));
        assert!(!role_permits("GENR09", LOINC, "11488-4"));
        assert!(role_permits("GENR09", LOINC, "83981-1"));
        assert!(!role_permits("GENR08", A05, "11488-4")); // right code, wrong system
        assert!(!role_permits("GENR01", LOINC, "11488-4"));
        assert!(role_permits("GENR11", LOINC, "68599-0"));
        assert!(!role_permits("GENR12", LOINC, "68599-0"));
    }

    #[test]
    fn the_health_insurance_certificate_counts_under_both_codes() {
        for role in ["GENR08", "GENR10", "GENR11", "GENR12"] {
            assert!(role_permits(role, A05, "ATTEST-VITALE"), "{role}");
            assert!(role_permits(role, A05, "ATTEST-DROITS-AM"), "{role}");
        }
        assert!(!role_permits("GENR09", A05, "ATTEST-VITALE"));
        assert!(!role_permits("GENR09", A05, "ATTEST-DROITS-AM"));
    }

    #[test]
    fn document_types() -> Result<(), String> {
        let m = &tables().map_err(|e| e.to_string())?.documents;
        // 37 coded seed types, 1 inferred (60591-5), 1 successor.
        assert_eq!(m.types().len(), 39);
        let dlu = m.document_type(LOINC, "74207-2").ok_or("74207-2")?;
        assert_eq!(dlu.label, "Document de liaison d'urgence");
        assert_eq!(
            dlu.seed_label.as_deref(),
            Some("Dossier de liaison d'urgence")
        );
        assert_eq!(dlu.class_code.as_deref(), Some("11"));
        let synthesis = m.document_type(LOINC, "60591-5").ok_or("60591-5")?;
        assert!(synthesis.inferred);
        assert_eq!(synthesis.label, "Synthèse du dossier médical");
        let successor = document_type(A05, "ATTEST-DROITS-AM").ok_or("ATTEST-DROITS-AM")?;
        assert_eq!(successor.class_code.as_deref(), Some("95"));
        assert_eq!(
            successor.same_as.as_ref().map(|k| k.code.as_str()),
            Some("ATTEST-VITALE")
        );
        assert!(m.document_type(LOINC, "00000-0").is_none());
        assert_eq!(m.cells().len(), 87);
        // Every cell's code resolves to a type.
        assert!(m.cells().iter().all(|c| {
            m.document_type(&c.document.system, &c.document.code)
                .is_some()
        }));
        let accepted = m.accepted_types_for_role("GENR10");
        assert_eq!(accepted.len(), 10);
        Ok(())
    }
}
