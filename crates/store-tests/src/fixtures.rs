//! Valid records to write, numbered so that each `n` gives distinct identifiers.

use jiff::Timestamp;
use jiff::civil::{Date, date};
use rppsplus_domain::ids::luhn_key;
use rppsplus_domain::{Adeli, Finess, Rpps, Siret};
use rppsplus_store::{
    IdDocumentRecord, ManagementMode, NewExercise, NewPerson, NewSituation, PersonId, StructureId,
    StructureKind, StructureRecord,
};

use crate::Failure;

/// An instant with microsecond precision (what both backends keep), `n` steps after a fixed
/// origin; every step moves the microseconds too.
pub fn at(n: i64) -> Result<Timestamp, Failure> {
    Ok(Timestamp::from_microsecond(
        1_764_000_000_123_456 + n * 1_000_001,
    )?)
}

fn digits(s: &str) -> impl DoubleEndedIterator<Item = u32> + '_ {
    s.bytes().map(|b| u32::from(b.wrapping_sub(b'0')))
}

/// A valid ADELI number.
pub fn adeli(n: u64) -> Result<Adeli, Failure> {
    let body = format!("{:08}", 75_000_000 + n);
    let key = luhn_key(digits(&body));
    Ok(Adeli::parse(&format!("{body}{key}"))?)
}

/// A valid FINESS number (key included).
pub fn finess(n: u64) -> Result<Finess, Failure> {
    let body = format!("{:08}", 75_000_000 + n);
    let key = luhn_key(digits(&body));
    Ok(Finess::parse(&format!("{body}{key}"))?)
}

/// A SIRET number that passes its key.
pub fn siret() -> Result<Siret, Failure> {
    Ok(Siret::parse("73282932000074")?)
}

/// A person registered here (RPPS of the `10` series), with every optional field filled.
pub fn person(n: u64) -> Result<NewPerson, Failure> {
    let rpps = Rpps::from_sequence(n)?;
    Ok(NewPerson {
        idnps: rpps.idnps(),
        rpps: Some(rpps),
        adeli: None,
        civility: "MME".into(),
        sex: "F".into(),
        birth_name: format!("Dupont-{n}"),
        usage_name: Some(format!("Martin-{n}")),
        first_names: vec!["Élodie".into(), "Marie".into(), format!("N{n}")],
        birth_date: date(1980, 5, 17),
        birth_country: "99100".into(),
        birth_commune: Some("75056".into()),
        id_document: Some(IdDocumentRecord {
            kind: "CNI".into(),
            number: format!("X{n:08}"),
            expires_on: date(2031, 12, 31),
        }),
        email: Some(format!("person{n}@example.org")),
        mobile: Some(format!("+336{n:08}")),
        birth_name_key: format!("DUPONT {n}"),
        usage_name_key: Some(format!("MARTIN {n}")),
        first_names_key: format!("ELODIE MARIE N{n}"),
        at: at(n as i64)?,
    })
}

/// A person imported from ADELI, with every optional field empty.
pub fn minimal_person(n: u64) -> Result<NewPerson, Failure> {
    let adeli = adeli(n)?;
    Ok(NewPerson {
        idnps: adeli.idnps(),
        rpps: None,
        adeli: Some(adeli),
        civility: "M".into(),
        sex: "M".into(),
        birth_name: format!("Durand-{n}"),
        usage_name: None,
        first_names: vec![format!("Jean{n}")],
        birth_date: date(1975, 1, 2),
        birth_country: "99134".into(),
        birth_commune: None,
        id_document: None,
        email: None,
        mobile: None,
        birth_name_key: format!("DURAND {n}"),
        usage_name_key: None,
        first_names_key: format!("JEAN{n}"),
        at: at(1000 + n as i64)?,
    })
}

/// A legal entity (EJ), open.
pub fn legal_entity(n: u64) -> Result<StructureRecord, Failure> {
    Ok(StructureRecord {
        finess: finess(n)?,
        kind: StructureKind::Ej,
        ej_finess: None,
        name: format!("Centre hospitalier {n}"),
        siret: None,
        category_code: None,
        setting: None,
        address: Some("1 rue de la Santé".into()),
        postcode: Some("75014".into()),
        commune_code: Some("75114".into()),
        city: Some("Paris".into()),
        open: true,
        closed_on: None,
        at: at(2000 + n as i64)?,
    })
}

/// An establishment (EG) of the legal entity `ej`, with every optional field filled.
pub fn establishment(n: u64, ej: &Finess) -> Result<StructureRecord, Failure> {
    Ok(StructureRecord {
        finess: finess(n)?,
        kind: StructureKind::Eg,
        ej_finess: Some(ej.clone()),
        name: format!("EHPAD Les Tilleuls {n}"),
        siret: Some(siret()?),
        category_code: Some("500".into()),
        setting: Some("ESMS".into()),
        address: Some("2 avenue des Tilleuls".into()),
        postcode: Some("69003".into()),
        commune_code: Some("69383".into()),
        city: Some("Lyon".into()),
        open: false,
        closed_on: Some(date(2024, 6, 30)),
        at: at(3000 + n as i64)?,
    })
}

/// The default management mode of a new legal entity.
pub const DEFAULT_MODE: ManagementMode = ManagementMode::Centralised;

/// A professional exercise of `person`.
pub fn exercise(person: PersonId, n: i64) -> Result<NewExercise, Failure> {
    Ok(NewExercise {
        person,
        profession_code: "60".into(),
        exercise_civility: Some("DR".into()),
        exercise_last_name: format!("DUPONT{n}"),
        exercise_first_name: "ELODIE".into(),
        at: at(4000 + n)?,
    })
}

/// A situation of an exercise at an establishment.
pub fn situation(
    exercise: rppsplus_store::ExerciseId,
    person: PersonId,
    structure: StructureId,
    start: Date,
    n: i64,
) -> Result<NewSituation, Failure> {
    Ok(NewSituation {
        exercise,
        person,
        structure,
        role_code: "GENR08".into(),
        practice_mode: "S".into(),
        start_date: start,
        end_date: None,
        created_by: None,
        at: at(5000 + n)?,
    })
}
