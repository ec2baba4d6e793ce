//! The document-access decision: may a professional open a patient document of a given type,
//! now, through which situations d'exercice?
//!
//! Pure: the caller reads the professional's situations (all of them, closed ones included) and
//! passes them with the instant of the decision. Only situations in force at that instant count
//! (see [`crate::situation::situation_in_force`]); a role opens the document types of the RPPS+
//! matrix (`data/role_document_access.csv`, successor codes included).

use std::collections::HashMap;
use std::sync::LazyLock;

use jiff::Timestamp;

use crate::reference::tables;
use crate::situation::{paris_date, situation_active_on};

/// The RPPS+ roles, in the order of their bits in [`MatrixIndex`].
const ROLES: [&str; 5] = ["GENR08", "GENR09", "GENR10", "GENR11", "GENR12"];

fn role_bit(role_code: &str) -> u8 {
    ROLES
        .iter()
        .position(|r| *r == role_code)
        .map_or(0, |i| 1 << i)
}

/// The matrix as a decision reads it: for each known document type (successor codes included),
/// the set of roles that open it, as bits. Built once from the reference data with
/// `role_permits`, so that both always agree (a test checks every type × role).
struct MatrixIndex(HashMap<String, HashMap<String, u8>>);

impl MatrixIndex {
    fn build() -> MatrixIndex {
        let mut by_system: HashMap<String, HashMap<String, u8>> = HashMap::new();
        if let Ok(t) = tables() {
            for ty in t.documents.types() {
                let roles = ROLES
                    .iter()
                    .filter(|r| t.documents.role_permits(r, &ty.key.system, &ty.key.code))
                    .fold(0u8, |bits, r| bits | role_bit(r));
                by_system
                    .entry(ty.key.system.clone())
                    .or_default()
                    .insert(ty.key.code.clone(), roles);
            }
        }
        MatrixIndex(by_system)
    }

    /// The roles that open a type, or `None` for an unknown type.
    fn roles(&self, system: &str, code: &str) -> Option<u8> {
        self.0.get(system)?.get(code).copied()
    }
}

static MATRIX: LazyLock<MatrixIndex> = LazyLock::new(MatrixIndex::build);

/// What the decision needs of one situation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SituationFacts {
    /// The situation's internal id.
    pub id: i64,
    /// FINESS number of the establishment.
    pub structure: String,
    /// TRE_R22 role (`GENR08`…`GENR12`).
    pub role_code: String,
    /// Date de prise de fonction.
    pub start_date: jiff::civil::Date,
    /// Last day of activity, when known.
    pub end_date: Option<jiff::civil::Date>,
    /// The instant it was closed at once, if it was (see [`closed_at_once`]); none for an
    /// open situation or a scheduled departure.
    pub closed_at: Option<Timestamp>,
}

/// Whether a situation was closed **at once** by the instant `at`: a closing with today's
/// date, or a past one, takes effect from the instant it was recorded (kept as `closed_at`,
/// which later edits do not move), not at the end of the day. A scheduled departure has no
/// `closed_at`: its end date stays the last day of activity.
pub fn closed_at_once(s: &SituationFacts, at: Timestamp) -> bool {
    crate::situation::closed_at_once(s.closed_at, at)
}

/// Permit or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The professional may open documents of this type.
    Permit,
    /// They may not.
    Deny,
}

impl Verdict {
    /// `permit` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Permit => "permit",
            Verdict::Deny => "deny",
        }
    }
}

/// Why: a stable code, one per outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// At least one active situation has a role that opens the type.
    PermittedByRole,
    /// The document type is neither in the matrix nor a known successor code.
    UnknownDocumentType,
    /// No person has this identifier.
    UnknownProfessional,
    /// The person has no situation active at the instant of the decision.
    NoActiveSituation,
    /// Active situations exist, but none at the establishment asked about.
    StructureMismatch,
    /// Active situations exist (at the establishment, if one was asked about), but no role of
    /// theirs opens the type.
    RoleDoesNotCoverDocumentType,
}

impl Reason {
    /// Every reason, for documentation and tests.
    pub const ALL: [Reason; 6] = [
        Reason::PermittedByRole,
        Reason::UnknownDocumentType,
        Reason::UnknownProfessional,
        Reason::NoActiveSituation,
        Reason::StructureMismatch,
        Reason::RoleDoesNotCoverDocumentType,
    ];

    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::PermittedByRole => "permitted_by_role",
            Reason::UnknownDocumentType => "unknown_document_type",
            Reason::UnknownProfessional => "unknown_professional",
            Reason::NoActiveSituation => "no_active_situation",
            Reason::StructureMismatch => "structure_mismatch",
            Reason::RoleDoesNotCoverDocumentType => "role_does_not_cover_document_type",
        }
    }
}

/// A decision: the verdict, its reason, and for a permit the situations that grant it (indices
/// into the slice given to [`decide`], in its order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Permit or deny.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
    /// The granting situations (empty on a deny).
    pub granted_by: Vec<usize>,
}

impl Decision {
    fn deny(reason: Reason) -> Self {
        Decision {
            verdict: Verdict::Deny,
            reason,
            granted_by: Vec::new(),
        }
    }
}

/// Whether the document type (`system`, `code`) is one the matrix knows.
pub fn known_document_type(system: &str, code: &str) -> bool {
    MATRIX.roles(system, code).is_some()
}

/// Decides. `situations` is `None` when no person has the identifier asked about, else every
/// situation of the person; `structure` restricts the decision to situations at that
/// establishment (FINESS); `at` is the instant of the decision.
///
/// Reasons are checked in this order: unknown document type, unknown professional, no active
/// situation, structure mismatch, role does not cover the type.
pub fn decide(
    system: &str,
    code: &str,
    situations: Option<&[SituationFacts]>,
    structure: Option<&str>,
    at: Timestamp,
) -> Decision {
    let Some(opening_roles) = MATRIX.roles(system, code) else {
        return Decision::deny(Reason::UnknownDocumentType);
    };
    let Some(situations) = situations else {
        return Decision::deny(Reason::UnknownProfessional);
    };
    let mut any_active = false;
    let mut any_here = false;
    let mut granted_by = Vec::new();
    let today = paris_date(at);
    for (i, s) in situations.iter().enumerate() {
        if !situation_active_on(s.start_date, s.end_date, today) || closed_at_once(s, at) {
            continue;
        }
        any_active = true;
        if structure.is_some_and(|f| f != s.structure) {
            continue;
        }
        any_here = true;
        if opening_roles & role_bit(&s.role_code) != 0 {
            granted_by.push(i);
        }
    }
    if !any_active {
        Decision::deny(Reason::NoActiveSituation)
    } else if !any_here {
        Decision::deny(Reason::StructureMismatch)
    } else if granted_by.is_empty() {
        Decision::deny(Reason::RoleDoesNotCoverDocumentType)
    } else {
        Decision {
            verdict: Verdict::Permit,
            reason: Reason::PermittedByRole,
            granted_by,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::tables;
    use jiff::civil::date;

    const LOINC: &str = "http://loinc.org";
    const EHPAD: &str = "690001029";
    const SSIAD: &str = "690001037";

    fn noon(d: jiff::civil::Date) -> Timestamp {
        d.at(12, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn situation(id: i64, structure: &str, role: &str) -> SituationFacts {
        SituationFacts {
            id,
            structure: structure.to_owned(),
            role_code: role.to_owned(),
            start_date: date(2026, 1, 1),
            end_date: None,
            closed_at: None,
        }
    }

    #[test]
    fn every_reason() {
        let at = noon(date(2026, 11, 27));
        let genr11 = [situation(7, EHPAD, "GENR11")];
        let d = decide(LOINC, "11488-4", Some(&genr11), None, at);
        assert_eq!(
            (d.verdict, d.reason, d.granted_by),
            (Verdict::Permit, Reason::PermittedByRole, vec![0])
        );
        // 11490-0 (discharge letter of a care establishment) is GENR08's, not GENR11's.
        let d = decide(LOINC, "11490-0", Some(&genr11), None, at);
        assert_eq!(d.reason, Reason::RoleDoesNotCoverDocumentType);
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(
            decide(LOINC, "00000-0", Some(&genr11), None, at).reason,
            Reason::UnknownDocumentType
        );
        assert_eq!(
            decide(LOINC, "11488-4", None, None, at).reason,
            Reason::UnknownProfessional
        );
        assert_eq!(
            decide(LOINC, "11488-4", Some(&[]), None, at).reason,
            Reason::NoActiveSituation
        );
        assert_eq!(
            decide(LOINC, "11488-4", Some(&genr11), Some(SSIAD), at).reason,
            Reason::StructureMismatch
        );
        assert_eq!(
            decide(LOINC, "11488-4", Some(&genr11), Some(EHPAD), at).verdict,
            Verdict::Permit
        );
    }

    #[test]
    fn only_situations_active_at_the_instant_count() {
        let mut s = situation(1, EHPAD, "GENR11");
        s.end_date = Some(date(2026, 11, 26));
        let closed = [s.clone()];
        let at = noon(date(2026, 11, 27));
        assert_eq!(
            decide(LOINC, "11488-4", Some(&closed), None, at).reason,
            Reason::NoActiveSituation
        );
        // The same question asked about the last day of activity is permitted.
        assert_eq!(
            decide(
                LOINC,
                "11488-4",
                Some(&closed),
                None,
                noon(date(2026, 11, 26))
            )
            .verdict,
            Verdict::Permit
        );
        s.start_date = date(2026, 12, 1);
        s.end_date = None;
        assert_eq!(
            decide(LOINC, "11488-4", Some(&[s]), None, at).reason,
            Reason::NoActiveSituation
        );
    }

    #[test]
    fn closing_with_today_s_date_takes_effect_at_once() {
        let today = date(2026, 11, 27);
        let at = |h: i8| {
            today
                .at(h, 0, 0, 0)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp())
                .unwrap_or(Timestamp::UNIX_EPOCH)
        };
        let mut s = situation(1, EHPAD, "GENR11");
        s.end_date = Some(today);
        s.closed_at = Some(at(10));
        let closed = [s.clone()];
        assert_eq!(
            decide(LOINC, "11488-4", Some(&closed), None, at(9)).verdict,
            Verdict::Permit
        );
        assert_eq!(
            decide(LOINC, "11488-4", Some(&closed), None, at(10)).reason,
            Reason::NoActiveSituation
        );
        // Recorded the day before: a scheduled departure (no `closed_at`), active through its
        // last day.
        s.closed_at = crate::situation::closed_at_after_write(
            None,
            Some(today),
            at(10) - jiff::SignedDuration::from_hours(24),
        );
        assert_eq!(s.closed_at, None);
        let scheduled = [s];
        assert_eq!(
            decide(LOINC, "11488-4", Some(&scheduled), None, at(20)).verdict,
            Verdict::Permit
        );
    }

    #[test]
    fn an_edit_after_a_closing_at_once_does_not_reopen_the_time_between() {
        let today = date(2026, 11, 27);
        let at = |h: i8| {
            today
                .at(h, 0, 0, 0)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp())
                .unwrap_or(Timestamp::UNIX_EPOCH)
        };
        let mut s = situation(1, EHPAD, "GENR11");
        s.end_date = Some(today);
        // Closed at 10:00, its exercise names corrected at 15:00 (same end date).
        s.closed_at = crate::situation::closed_at_after_write(None, s.end_date, at(10));
        s.closed_at = crate::situation::closed_at_after_write(s.closed_at, s.end_date, at(15));
        let closed = [s];
        assert_eq!(
            decide(LOINC, "11488-4", Some(&closed), None, at(9)).verdict,
            Verdict::Permit
        );
        assert_eq!(
            decide(LOINC, "11488-4", Some(&closed), None, at(12)).reason,
            Reason::NoActiveSituation
        );
    }

    #[test]
    fn a_closed_situation_elsewhere_does_not_grant_and_an_active_one_does() {
        let at = noon(date(2026, 11, 27));
        let mut old = situation(1, SSIAD, "GENR08");
        old.end_date = Some(date(2025, 12, 31));
        let situations = [
            old,
            situation(2, EHPAD, "GENR09"),
            situation(3, SSIAD, "GENR11"),
        ];
        let d = decide(LOINC, "11488-4", Some(&situations), None, at);
        assert_eq!(d.granted_by, vec![2]);
        // At the EHPAD only GENR09 is active there: it does not open 11488-4.
        assert_eq!(
            decide(LOINC, "11488-4", Some(&situations), Some(EHPAD), at).reason,
            Reason::RoleDoesNotCoverDocumentType
        );
    }

    #[test]
    fn every_cell_of_the_matrix_permits_and_other_roles_deny() -> Result<(), String> {
        let m = &tables().map_err(|e| e.to_string())?.documents;
        let at = noon(date(2026, 11, 27));
        let roles = ["GENR08", "GENR09", "GENR10", "GENR11", "GENR12"];
        let mut permits = 0;
        let mut denies = 0;
        for t in m.types() {
            for role in roles {
                let d = decide(
                    &t.key.system,
                    &t.key.code,
                    Some(&[situation(1, EHPAD, role)]),
                    None,
                    at,
                );
                let expected = m.role_permits(role, &t.key.system, &t.key.code);
                assert_eq!(
                    d.verdict == Verdict::Permit,
                    expected,
                    "{role} × {}",
                    t.key.code
                );
                if expected {
                    permits += 1;
                } else {
                    assert_eq!(d.reason, Reason::RoleDoesNotCoverDocumentType);
                    denies += 1;
                }
            }
        }
        for c in m.cells() {
            let d = decide(
                &c.document.system,
                &c.document.code,
                Some(&[situation(1, EHPAD, &c.role_code)]),
                None,
                at,
            );
            assert_eq!(
                d.verdict,
                Verdict::Permit,
                "{} × {}",
                c.role_code,
                c.document.code
            );
        }
        // 87 cells, plus ATTEST-DROITS-AM for the four roles that open ATTEST-VITALE.
        assert_eq!(permits, 91);
        assert_eq!(permits + denies, 39 * 5);
        Ok(())
    }
}
