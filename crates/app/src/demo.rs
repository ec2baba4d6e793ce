//! The demo data set: a deterministic registry to try the product on.
//!
//! An association (EJ) with an EHPAD and a SSIAD managed centrally, a pharmacy, a hospital
//! managed per site, their legal representatives, two managers and fifty professionals across
//! the five RPPS+ roles, a few of whom have left. Loaded only into an empty database, in one
//! transaction: either the whole demo is there or none of it.

use jiff::civil::{Date, date};
use rppsplus_domain::Finess;
use rppsplus_store::{
    HabilitationKind, IdDocumentRecord, ManagementMode, PersonId, RepresentativeCard,
    StructureKind, StructureRecord,
};

use crate::persons::{
    PersonInput, SituationInput, add_situation_in, close_situation_in, create_person_in,
    record_elearning_in,
};
use crate::structures::{
    grant_habilitation_in, set_legal_representative_in, set_management_mode_in, upsert_structure_in,
};
use crate::{Actor, App, AppError, AppResult};

/// What loading the demo did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoOutcome {
    /// The demo was loaded.
    Loaded {
        /// Persons created.
        persons: usize,
        /// Structures created.
        structures: usize,
    },
    /// The database already holds data; nothing was changed.
    NotEmpty,
}

struct DemoStructure {
    finess: &'static str,
    ej: Option<&'static str>,
    name: &'static str,
    category: Option<&'static str>,
    setting: Option<&'static str>,
    address: &'static str,
    postcode: &'static str,
    commune: &'static str,
    city: &'static str,
    siret: Option<&'static str>,
}

/// FINESS numbers of the demo structures (valid keys).
pub mod finess {
    /// Association Les Tilleuls (EJ, centralised management).
    pub const ASSOCIATION: &str = "690001011";
    /// EHPAD Les Tilleuls (EG, ESMS).
    pub const EHPAD: &str = "690001029";
    /// SSIAD Les Tilleuls (EG, ESMS).
    pub const SSIAD: &str = "690001037";
    /// SELARL Pharmacie du Parc (EJ).
    pub const PHARMACY_EJ: &str = "690002019";
    /// Pharmacie du Parc (EG, officine).
    pub const PHARMACY: &str = "690002027";
    /// Centre hospitalier de Villefranche-sur-Saône (EJ, per-site management).
    pub const HOSPITAL_EJ: &str = "690003017";
    /// Centre hospitalier de Villefranche-sur-Saône, main site (EG, établissement sanitaire).
    pub const HOSPITAL: &str = "690003025";
}

const STRUCTURES: &[DemoStructure] = &[
    DemoStructure {
        finess: finess::ASSOCIATION,
        ej: None,
        name: "Association Les Tilleuls",
        category: None,
        setting: None,
        address: "12 rue des Tilleuls",
        postcode: "69100",
        commune: "69266",
        city: "Villeurbanne",
        siret: None,
    },
    DemoStructure {
        finess: finess::EHPAD,
        ej: Some(finess::ASSOCIATION),
        name: "EHPAD Les Tilleuls",
        category: Some("500"),
        setting: Some("ESMS"),
        address: "12 rue des Tilleuls",
        postcode: "69100",
        commune: "69266",
        city: "Villeurbanne",
        siret: None,
    },
    DemoStructure {
        finess: finess::SSIAD,
        ej: Some(finess::ASSOCIATION),
        name: "SSIAD Les Tilleuls",
        category: Some("354"),
        setting: Some("ESMS"),
        address: "4 place Guichard",
        postcode: "69003",
        commune: "69383",
        city: "Lyon",
        siret: None,
    },
    DemoStructure {
        finess: finess::PHARMACY_EJ,
        ej: None,
        name: "SELARL Pharmacie du Parc",
        category: None,
        setting: None,
        address: "30 boulevard des Belges",
        postcode: "69006",
        commune: "69386",
        city: "Lyon",
        siret: None,
    },
    DemoStructure {
        finess: finess::PHARMACY,
        ej: Some(finess::PHARMACY_EJ),
        name: "Pharmacie du Parc",
        category: Some("620"),
        setting: Some("officine"),
        address: "30 boulevard des Belges",
        postcode: "69006",
        commune: "69386",
        city: "Lyon",
        siret: None,
    },
    DemoStructure {
        finess: finess::HOSPITAL_EJ,
        ej: None,
        name: "Centre hospitalier de Villefranche-sur-Saône",
        category: None,
        setting: None,
        address: "Plateau d'Ouilly",
        postcode: "69400",
        commune: "69264",
        city: "Villefranche-sur-Saône",
        siret: None,
    },
    DemoStructure {
        finess: finess::HOSPITAL,
        ej: Some(finess::HOSPITAL_EJ),
        name: "Centre hospitalier de Villefranche-sur-Saône – site d'Ouilly",
        category: Some("355"),
        setting: Some("etablissement_sanitaire"),
        address: "Plateau d'Ouilly",
        postcode: "69400",
        commune: "69264",
        city: "Villefranche-sur-Saône",
        siret: None,
    },
];

const LAST_NAMES: &[&str] = &[
    "Moreau",
    "Lefèvre",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
    "Gauthier",
    "Dumont",
    "Lopez",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Masson",
    "Sanchez",
    "N'Diaye",
    "Boyer",
    "Denis",
    "Lemaire",
    "Duval",
    "Joly",
    "Gautier",
    "Roger",
    "Roche",
    "Roy",
    "Noël",
    "Meyer",
    "Lucas",
    "Meunier",
    "Jean",
    "Pérez",
    "Marchand",
    "Dufour",
    "Blanchard",
    "Gillet",
    "Brun",
    "Barbier",
    "Arnaud",
    "Martinez",
    "Giraud",
    "Leclerc",
    "Rivière",
];
const FIRST_NAMES_F: &[&str] = &[
    "Léa", "Manon", "Chloé", "Camille", "Inès", "Sarah", "Anaïs", "Émilie", "Julie", "Nadia",
    "Fatou", "Océane", "Zoé", "Maëlle", "Agnès",
];
const FIRST_NAMES_M: &[&str] = &[
    "Lucas", "Hugo", "Théo", "Nathan", "Yanis", "Mathis", "Rayan", "Loïc", "Benoît", "Jérôme",
];
const BIRTH_COMMUNES: &[&str] = &[
    "69123", "75056", "13055", "31555", "59350", "33063", "44109", "67482",
];
const ABROAD: &[&str] = &["99350", "99139", "99127"];

/// The professions and the establishments they work at: (establishment, TRE_R85 code).
const JOBS: &[(&str, &str)] = &[
    (finess::EHPAD, "313"),
    (finess::EHPAD, "328"),
    (finess::EHPAD, "313"),
    (finess::EHPAD, "331"),
    (finess::EHPAD, "365"),
    (finess::SSIAD, "313"),
    (finess::SSIAD, "371"),
    (finess::SSIAD, "372"),
    (finess::EHPAD, "326"),
    (finess::PHARMACY, "317"),
    (finess::HOSPITAL, "329"),
    (finess::HOSPITAL, "334"),
    (finess::EHPAD, "324"),
    (finess::SSIAD, "319"),
    (finess::EHPAD, "359"),
];

/// RPPS+ roles cycled over the professionals.
const ROLES: &[&str] = &["GENR11", "GENR10", "GENR09", "GENR12", "GENR08"];

fn structure_record(s: &DemoStructure, at: jiff::Timestamp) -> AppResult<StructureRecord> {
    let parse = |v: &str| {
        Finess::parse(v).map_err(|_| AppError::Conflict {
            code: "demo_data_invalid",
            message: format!("FINESS de démonstration invalide : {v}"),
        })
    };
    Ok(StructureRecord {
        finess: parse(s.finess)?,
        kind: if s.ej.is_some() {
            StructureKind::Eg
        } else {
            StructureKind::Ej
        },
        ej_finess: s.ej.map(parse).transpose()?,
        name: s.name.to_owned(),
        siret: s.siret.and_then(|v| rppsplus_domain::Siret::parse(v).ok()),
        category_code: s.category.map(str::to_owned),
        setting: s.setting.map(str::to_owned),
        address: Some(s.address.to_owned()),
        postcode: Some(s.postcode.to_owned()),
        commune_code: Some(s.commune.to_owned()),
        city: Some(s.city.to_owned()),
        open: true,
        closed_on: None,
        at,
    })
}

fn pick<'a>(list: &[&'a str], i: usize) -> &'a str {
    list.get(i % list.len().max(1)).copied().unwrap_or_default()
}

/// A deterministic identity for the `n`-th demo person.
fn identity(n: usize, first: &str, last: &str, female: bool) -> PersonInput {
    let abroad = n % 9 == 4;
    let birth_year = 1962 + (n * 7 % 40) as i16;
    let birth_month = 1 + (n * 5 % 12) as i8;
    let birth_day = 1 + (n * 11 % 28) as i8;
    let ascii = |s: &str| rppsplus_domain::matching::matching_key(s).replace(' ', "-");
    PersonInput {
        civility: if female { "MME" } else { "M" }.to_owned(),
        sex: if female { "F" } else { "M" }.to_owned(),
        birth_name: last.to_owned(),
        usage_name: None,
        first_names: if n.is_multiple_of(3) {
            vec![
                first.to_owned(),
                pick(if female { FIRST_NAMES_F } else { FIRST_NAMES_M }, n + 3).to_owned(),
            ]
        } else {
            vec![first.to_owned()]
        },
        birth_date: date(birth_year, birth_month, birth_day),
        birth_country: if abroad { pick(ABROAD, n) } else { "99100" }.to_owned(),
        birth_commune: if abroad {
            None
        } else {
            Some(pick(BIRTH_COMMUNES, n).to_owned())
        },
        id_document: Some(IdDocumentRecord {
            kind: if n.is_multiple_of(4) {
                "PASSEPORT"
            } else {
                "CNI"
            }
            .to_owned(),
            number: format!("DEMO{:08}", 1000 + n),
            expires_on: date(2031, 6, 30),
        }),
        email: Some(format!(
            "{}.{}.{n}@demo.rppsplus.test",
            ascii(first),
            ascii(last)
        )),
        mobile: Some(format!("+3361200{:04}", n)),
    }
}

impl App {
    /// Loads the demo data set into an empty database.
    pub async fn load_demo(&self) -> AppResult<DemoOutcome> {
        let actor = Actor::System;
        let at = self.now();
        let mut tx = self.store.begin().await?;
        if !tx.list_structures().await?.is_empty()
            || !tx.list_persons(PersonId(0), 1).await?.is_empty()
        {
            tx.rollback().await?;
            return Ok(DemoOutcome::NotEmpty);
        }
        let mut ids = std::collections::HashMap::new();
        for s in STRUCTURES {
            let outcome = upsert_structure_in(&mut tx, &actor, &structure_record(s, at)?).await?;
            ids.insert(s.finess, outcome.id());
        }
        let id_of = |f: &str| ids.get(f).copied().ok_or(AppError::NotFound);
        for (ej, mode) in [
            (finess::ASSOCIATION, ManagementMode::Centralised),
            (finess::PHARMACY_EJ, ManagementMode::Centralised),
            (finess::HOSPITAL_EJ, ManagementMode::PerSite),
        ] {
            let ej = Finess::parse(ej).map_err(|_| AppError::NotFound)?;
            set_management_mode_in(&mut tx, &actor, at, &ej, mode).await?;
        }

        let mut n = 0usize;
        let mut persons = 0usize;
        // Legal representatives: (first, last, female, structure, card, profession at a site).
        let representatives = [
            (
                "Claire",
                "Martin",
                true,
                finess::ASSOCIATION,
                RepresentativeCard::Cde,
            ),
            (
                "Paul",
                "Girard",
                false,
                finess::PHARMACY_EJ,
                RepresentativeCard::Cps,
            ),
            (
                "Hélène",
                "Roche-Valette",
                true,
                finess::HOSPITAL_EJ,
                RepresentativeCard::Cde,
            ),
        ];
        for (first, last, female, structure, card) in representatives {
            n += 1;
            let p = create_person_in(&mut tx, &actor, at, identity(n, first, last, female)).await?;
            persons += 1;
            set_legal_representative_in(&mut tx, &actor, at, id_of(structure)?, p.id, card).await?;
        }

        // Managers: one centralised on the association, one on the hospital's site.
        let managers = [
            (
                "Sophie",
                "Bernard",
                true,
                finess::ASSOCIATION,
                finess::EHPAD,
                "359",
                "GENR12",
            ),
            (
                "Karim",
                "Haddad",
                false,
                finess::HOSPITAL,
                finess::HOSPITAL,
                "329",
                "GENR09",
            ),
        ];
        for (first, last, female, scope, site, profession, role) in managers {
            n += 1;
            let p = create_person_in(&mut tx, &actor, at, identity(n, first, last, female)).await?;
            persons += 1;
            record_elearning_in(
                &mut tx,
                &actor,
                at,
                p.id,
                date(2025, 3, 14),
                &format!("ELEARN-DEMO-{n:04}"),
            )
            .await?;
            grant_habilitation_in(
                &mut tx,
                &actor,
                at,
                p.id,
                id_of(scope)?,
                HabilitationKind::Manager,
            )
            .await?;
            add_situation_in(
                &mut tx,
                &actor,
                at,
                p.id,
                situation(
                    site,
                    profession,
                    role,
                    first,
                    last,
                    date(2021, 9, 1),
                    None,
                    "S",
                    &id_of,
                )?,
            )
            .await?;
        }

        // Fifty professionals; every eleventh one has left.
        for i in 0..50 {
            n += 1;
            let female = i % 3 != 1;
            let first = if female {
                pick(FIRST_NAMES_F, i)
            } else {
                pick(FIRST_NAMES_M, i)
            };
            let last = pick(LAST_NAMES, i);
            let (site, profession) = JOBS.get(i % JOBS.len()).copied().unwrap_or(JOBS[0]);
            let role = pick(ROLES, i);
            let mode = match i % 17 {
                5 => "L",
                11 => "B",
                _ => "S",
            };
            let start = start_date(i);
            let end = (i % 11 == 10).then(|| date(2025, 12, 31));
            let p = create_person_in(&mut tx, &actor, at, identity(n, first, last, female)).await?;
            persons += 1;
            let sid = add_situation_in(
                &mut tx,
                &actor,
                at,
                p.id,
                situation(
                    site, profession, role, first, last, start, None, mode, &id_of,
                )?,
            )
            .await?;
            if let Some(end) = end {
                close_situation_in(&mut tx, &actor, at, sid, 1, end, "Départ de la structure")
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(DemoOutcome::Loaded {
            persons,
            structures: STRUCTURES.len(),
        })
    }
}

fn start_date(i: usize) -> Date {
    date(
        2015 + (i % 10) as i16,
        1 + (i % 12) as i8,
        1 + (i * 3 % 28) as i8,
    )
}

#[allow(clippy::too_many_arguments)]
fn situation(
    site: &str,
    profession: &str,
    role: &str,
    first: &str,
    last: &str,
    start: Date,
    end: Option<Date>,
    mode: &str,
    id_of: &dyn Fn(&str) -> AppResult<rppsplus_store::StructureId>,
) -> AppResult<SituationInput> {
    Ok(SituationInput {
        structure: id_of(site)?,
        profession_code: profession.to_owned(),
        exercise_last_name: last.to_uppercase(),
        exercise_first_name: first.to_owned(),
        role_code: role.to_owned(),
        practice_mode: mode.to_owned(),
        start_date: start,
        end_date: end,
    })
}
