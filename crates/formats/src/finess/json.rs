//! The FINESS+ "Structures" JSON document (`finess-structures-*.json`, once uncompressed).
//!
//! The published JSON Schema does not match the real files; the structs below follow the real
//! files (keys as spelled there, unknown keys ignored). The document is one object whose
//! `pmej` array holds the legal entities, each with its establishments in `ege`. It is read as
//! a stream: one legal entity at a time is held in memory, whatever the size of the file.

use std::fmt;
use std::io::BufRead;
use std::ops::ControlFlow;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{
    Address, Establishment, FinessItem, FinessRecord, LegalEntity, Location, ReadError, Rejection,
    is_category_code, opt, read_date, read_finess, read_siren, read_siret,
};

/// What the envelope of a JSON document said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonSummary {
    /// `schemaVersion` (`v1.0.0`).
    pub schema_version: Option<String>,
    /// `generatedAt`, as written.
    pub generated_at: Option<String>,
    /// Entries of `pmej` read.
    pub legal_entities: u64,
    /// Whether the caller stopped the reading before the end.
    pub stopped: bool,
}

/// Reads a FINESS+ "Structures" document, handing each item to `each` in document order: a
/// legal entity, then its establishments. `each` may stop the reading with
/// [`ControlFlow::Break`]. An entry whose data does not have the expected types is rejected
/// alone; malformed JSON stops the reading with [`ReadError::Json`].
pub fn read_structures_json<R: BufRead>(
    input: R,
    mut each: impl FnMut(FinessItem) -> ControlFlow<()>,
) -> Result<JsonSummary, ReadError> {
    let mut input = input;
    if first_significant_byte(&mut input)? != Some(b'{') {
        return Err(ReadError::NotAnExtract(
            "not a JSON object: not a FINESS+ Structures document".into(),
        ));
    }
    let mut de = serde_json::Deserializer::from_reader(input);
    let mut summary = JsonSummary::default();
    let mut saw_pmej = false;
    let result = Document {
        each: &mut each,
        summary: &mut summary,
        saw_pmej: &mut saw_pmej,
    }
    .deserialize(&mut de)
    .and_then(|()| if summary.stopped { Ok(()) } else { de.end() });
    match result {
        Ok(()) if saw_pmej || summary.stopped => Ok(summary),
        Ok(()) => Err(ReadError::NotAnExtract(
            "no `pmej` array: not a FINESS+ Structures document".into(),
        )),
        Err(_) if summary.stopped => Ok(summary),
        Err(e) if e.is_io() => Err(ReadError::Io(std::io::Error::other(e.to_string()))),
        Err(e) => Err(ReadError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }),
    }
}

/// The first byte that is not JSON whitespace (nor a UTF-8 byte-order mark), left unread.
fn first_significant_byte<R: BufRead>(input: &mut R) -> std::io::Result<Option<u8>> {
    let mut at_start = true;
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if at_start && buf.starts_with(b"\xEF\xBB\xBF") {
            input.consume(3);
            at_start = false;
            continue;
        }
        at_start = false;
        if buf.is_empty() {
            return Ok(None);
        }
        match buf.iter().position(|b| !b" \t\r\n".contains(b)) {
            Some(i) => {
                let first = buf.get(i).copied();
                input.consume(i);
                return Ok(first);
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

/// The top-level object.
struct Document<'a, F> {
    each: &'a mut F,
    summary: &'a mut JsonSummary,
    saw_pmej: &'a mut bool,
}

impl<'de, F: FnMut(FinessItem) -> ControlFlow<()>> DeserializeSeed<'de> for Document<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(FinessItem) -> ControlFlow<()>> Visitor<'de> for Document<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a FINESS+ Structures object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "pmej" => {
                    *self.saw_pmej = true;
                    map.next_value_seed(LegalEntities {
                        each: &mut *self.each,
                        summary: &mut *self.summary,
                    })?;
                }
                "schemaVersion" => {
                    let v: serde_json::Value = map.next_value()?;
                    self.summary.schema_version = v.as_str().map(str::to_owned);
                }
                "generatedAt" => {
                    let v: serde_json::Value = map.next_value()?;
                    self.summary.generated_at = v.as_str().map(str::to_owned);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `pmej` array, read one entry at a time.
struct LegalEntities<'a, F> {
    each: &'a mut F,
    summary: &'a mut JsonSummary,
}

impl<'de, F: FnMut(FinessItem) -> ControlFlow<()>> DeserializeSeed<'de> for LegalEntities<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(FinessItem) -> ControlFlow<()>> Visitor<'de> for LegalEntities<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of legal entities")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<serde_json::Value>()? {
            self.summary.legal_entities += 1;
            for item in legal_entity_items(self.summary.legal_entities, entry) {
                if (self.each)(item).is_break() {
                    self.summary.stopped = true;
                    return Err(de::Error::custom("stopped by the caller"));
                }
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Pmej {
    #[serde(rename = "informationsGeneralesPMEJ")]
    info: PmejInfo,
    #[serde(default, rename = "adresse")]
    addresses: Option<Vec<Adresse>>,
    #[serde(default, rename = "contact")]
    contacts: Option<Vec<Contact>>,
    #[serde(default, rename = "ege")]
    establishments: Option<Vec<serde_json::Value>>,
    #[serde(default, rename = "etatObjet")]
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PmejInfo {
    num_finess_pm: Option<String>,
    denomination_pm: Option<String>,
    denomination_longue_pm_smsse: Option<String>,
    complement_adresse_pm_smsse: Option<String>,
    siren: Option<String>,
    code_ape: Option<String>,
    statut_juridique: Option<String>,
    date_creation: Option<String>,
    date_fermeture: Option<String>,
}

#[derive(Deserialize)]
struct Ege {
    #[serde(rename = "informationsGeneralesEGE")]
    info: EgeInfo,
    #[serde(default, rename = "categorieentiteGeographiqueExercice")]
    category: Option<String>,
    #[serde(default, rename = "modefixationtarifaire")]
    pricing_mode: Option<String>,
    #[serde(default, rename = "adresse")]
    addresses: Option<Vec<Adresse>>,
    #[serde(default, rename = "contact")]
    contacts: Option<Vec<Contact>>,
    #[serde(default, rename = "etatObjet")]
    state: Option<String>,
    #[serde(default, rename = "dateDerniereMaj")]
    updated: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EgeInfo {
    num_finess_ege: Option<String>,
    nom_ege_court: Option<String>,
    nom_ege_long: Option<String>,
    complement_denomination_eg: Option<String>,
    siret: Option<String>,
    date_ouverture: Option<String>,
    date_premiere_autorisation: Option<String>,
    date_fermeture: Option<String>,
    numero_education_nationale: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Adresse {
    usage_adresse: Option<String>,
    numero_voie: Option<String>,
    type_voie: Option<String>,
    libelle_voie: Option<String>,
    complement_voie: Option<String>,
    complement_point_geographique: Option<String>,
    lieu_dit: Option<String>,
    cog_commune: Option<String>,
    ligne_acheminement: Option<String>,
    code_postal: Option<String>,
}

#[derive(Deserialize)]
struct Contact {
    #[serde(default)]
    telecom: Option<Telecom>,
}

#[derive(Deserialize)]
struct Telecom {
    #[serde(default)]
    telephone: Option<String>,
    #[serde(default)]
    telecopie: Option<String>,
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

/// The items of one `pmej` entry: the legal entity, then its establishments.
fn legal_entity_items(n: u64, entry: serde_json::Value) -> Vec<FinessItem> {
    let at = Location::Entry {
        legal_entity: n,
        establishment: None,
    };
    let finess_hint = entry
        .pointer("/informationsGeneralesPMEJ/numFinessPm")
        .and_then(|v| v.as_str())
        .and_then(|f| rppsplus_domain::Finess::read(f).ok())
        .map(|r| r.finess);
    let pmej: Pmej = match serde_json::from_value(entry) {
        Ok(p) => p,
        Err(e) => {
            return vec![FinessItem::Rejected(Rejection {
                at,
                finess: finess_hint,
                reason: format!("unexpected data: {e}"),
            })];
        }
    };
    let mut items = Vec::new();
    let mut warnings = Vec::new();
    let ej = match read_finess("numFinessPm", s(&pmej.info.num_finess_pm), &mut warnings) {
        Ok(f) => f,
        Err(reason) => {
            items.push(FinessItem::Rejected(Rejection {
                at,
                finess: None,
                reason,
            }));
            // Establishments need their legal entity's number: reject them too, named.
            for (j, ege) in pmej.establishments.iter().flatten().enumerate() {
                items.push(FinessItem::Rejected(Rejection {
                    at: ege_at(n, j),
                    finess: ege
                        .pointer("/informationsGeneralesEGE/numFinessEge")
                        .and_then(|v| v.as_str())
                        .and_then(|f| rppsplus_domain::Finess::read(f).ok())
                        .map(|r| r.finess),
                    reason: "the legal entity's numFinessPm is unreadable".into(),
                }));
            }
            return items;
        }
    };
    let info = &pmej.info;
    let name = match (
        opt(s(&info.denomination_pm)),
        opt(s(&info.denomination_longue_pm_smsse)),
    ) {
        (Some(short), long) => Some((short, long)),
        (None, Some(long)) => Some((long.clone(), Some(long))),
        (None, None) => None,
    };
    match name {
        None => items.push(FinessItem::Rejected(Rejection {
            at,
            finess: Some(ej.clone()),
            reason: "no name (denominationPm and denominationLonguePmSmsse are empty)".into(),
        })),
        Some((short_name, long_name)) => {
            let (open, closed_on) = state(
                pmej.state.as_deref(),
                s(&info.date_fermeture),
                &mut warnings,
            );
            let mut address = address(
                pmej.addresses.as_deref().unwrap_or_default(),
                "02",
                &mut warnings,
            );
            if address.delivery_complement.is_none() {
                address.delivery_complement = opt(s(&info.complement_adresse_pm_smsse));
            }
            let e = LegalEntity {
                finess: ej.clone(),
                short_name,
                long_name,
                name_complement: None,
                address,
                phone: phone(pmej.contacts.as_deref()).0,
                legal_status_code: opt(s(&info.statut_juridique)),
                siren: read_siren(s(&info.siren), &mut warnings),
                ape_code: opt(s(&info.code_ape)),
                created_on: read_date("dateCreation", s(&info.date_creation), &mut warnings),
                closed_on,
                open,
            };
            items.push(FinessItem::Record {
                at,
                record: FinessRecord::LegalEntity(e),
                warnings,
            });
        }
    }
    for (j, ege) in pmej.establishments.into_iter().flatten().enumerate() {
        items.push(establishment_item(ege_at(n, j), &ej, ege));
    }
    items
}

fn ege_at(n: u64, j: usize) -> Location {
    Location::Entry {
        legal_entity: n,
        establishment: Some(u64::try_from(j).unwrap_or(u64::MAX).saturating_add(1)),
    }
}

fn establishment_item(
    at: Location,
    ej: &rppsplus_domain::Finess,
    value: serde_json::Value,
) -> FinessItem {
    let finess_hint = value
        .pointer("/informationsGeneralesEGE/numFinessEge")
        .and_then(|v| v.as_str())
        .and_then(|f| rppsplus_domain::Finess::read(f).ok())
        .map(|r| r.finess);
    let reject = |finess, reason: String| FinessItem::Rejected(Rejection { at, finess, reason });
    let ege: Ege = match serde_json::from_value(value) {
        Ok(e) => e,
        Err(e) => return reject(finess_hint, format!("unexpected data: {e}")),
    };
    let mut warnings = Vec::new();
    let info = &ege.info;
    let finess = match read_finess("numFinessEge", s(&info.num_finess_ege), &mut warnings) {
        Ok(f) => f,
        Err(reason) => return reject(None, reason),
    };
    let some = Some(finess.clone());
    let (short_name, long_name) = match (opt(s(&info.nom_ege_court)), opt(s(&info.nom_ege_long))) {
        (Some(short), long) => (short, long),
        (None, Some(long)) => (long.clone(), Some(long)),
        (None, None) => {
            return reject(
                some,
                "no name (nomEgeCourt and nomEgeLong are empty)".into(),
            );
        }
    };
    let category_code = s(&ege.category).trim().to_owned();
    if !is_category_code(&category_code) {
        return reject(
            some,
            format!("categorieentiteGeographiqueExercice {category_code:?}: expected 3 digits"),
        );
    }
    let (open, closed_on) = state(ege.state.as_deref(), s(&info.date_fermeture), &mut warnings);
    let (phone, fax) = phone(ege.contacts.as_deref());
    let e = Establishment {
        finess,
        legal_entity: ej.clone(),
        short_name,
        long_name,
        name_complement: opt(s(&info.complement_denomination_eg)),
        address: address(
            ege.addresses.as_deref().unwrap_or_default(),
            "03",
            &mut warnings,
        ),
        phone,
        fax,
        category_code,
        category_label: None,
        aggregate_code: None,
        siret: read_siret(s(&info.siret), &mut warnings),
        ape_code: None,
        pricing_mode_code: opt(s(&ege.pricing_mode)),
        sph_code: None,
        opened_on: read_date("dateOuverture", s(&info.date_ouverture), &mut warnings),
        authorised_on: read_date(
            "datePremiereAutorisation",
            s(&info.date_premiere_autorisation),
            &mut warnings,
        ),
        updated_on: read_date("dateDerniereMaj", s(&ege.updated), &mut warnings),
        closed_on,
        open,
        uai: opt(s(&info.numero_education_nationale)),
    };
    FinessItem::Record {
        at,
        record: FinessRecord::Establishment(e),
        warnings,
    }
}

/// `etatObjet` `A` is active, `I` inactive (closed on `dateFermeture`).
fn state(
    etat: Option<&str>,
    closing: &str,
    warnings: &mut Vec<String>,
) -> (bool, Option<jiff::civil::Date>) {
    let closed_on = read_date("dateFermeture", closing, warnings);
    match etat.map(str::trim) {
        Some("A") => (true, None),
        Some("I") => (false, closed_on),
        other => {
            warnings.push(format!(
                "etatObjet {:?}: expected A or I, read from dateFermeture",
                other.unwrap_or_default()
            ));
            (closed_on.is_none(), closed_on)
        }
    }
}

/// The address of the given usage (`03` for an establishment's site, `02` for a legal
/// entity's seat), else the first one.
fn address(all: &[Adresse], usage: &str, warnings: &mut Vec<String>) -> Address {
    let Some(a) = all
        .iter()
        .find(|a| a.usage_adresse.as_deref() == Some(usage))
        .or_else(|| all.first())
    else {
        return Address::default();
    };
    let cog = opt(s(&a.cog_commune));
    let commune_code = match cog {
        Some(c) if c.len() == 5 && c.bytes().all(|b| b.is_ascii_alphanumeric()) => Some(c),
        Some(c) => {
            warnings.push(format!("cogCommune {c:?}: not a commune code, left empty"));
            None
        }
        None => None,
    };
    Address {
        delivery_complement: opt(s(&a.complement_point_geographique)),
        street_number: opt(s(&a.numero_voie)),
        repetition: opt(s(&a.complement_voie)),
        street_type: opt(s(&a.type_voie)),
        street_name: opt(s(&a.libelle_voie)),
        locality: opt(s(&a.lieu_dit)),
        postcode: opt(s(&a.code_postal)),
        city: opt(s(&a.ligne_acheminement)),
        commune_code,
    }
}

/// The first phone and fax numbers of the contacts.
fn phone(contacts: Option<&[Contact]>) -> (Option<String>, Option<String>) {
    let telecoms = || {
        contacts
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.telecom.as_ref())
    };
    (
        telecoms().find_map(|t| opt(s(&t.telephone))),
        telecoms().find_map(|t| opt(s(&t.telecopie))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str =
        include_str!("../../../../data/samples/finess-structures-journalier-20260813_excerpt.json");

    fn read(input: &str) -> Result<(JsonSummary, Vec<FinessItem>), ReadError> {
        let mut items = Vec::new();
        let summary = read_structures_json(input.as_bytes(), |i| {
            items.push(i);
            ControlFlow::Continue(())
        })?;
        Ok((summary, items))
    }

    #[test]
    fn the_sample_reads_legal_entities_then_their_establishments() {
        let (summary, items) = read(SAMPLE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(summary.schema_version.as_deref(), Some("v1.0.0"));
        assert_eq!(
            summary.generated_at.as_deref(),
            Some("2026-08-13T02:07:30.574916747Z")
        );
        assert_eq!(summary.legal_entities, 2);
        let got: Vec<(String, &str, String, bool)> = items
            .iter()
            .map(|i| match i {
                FinessItem::Record {
                    at,
                    record,
                    warnings,
                } => {
                    assert!(warnings.is_empty(), "{at}: {warnings:?}");
                    match record {
                        FinessRecord::LegalEntity(e) => {
                            (at.to_string(), "EJ", e.finess.to_string(), e.open)
                        }
                        FinessRecord::Establishment(e) => {
                            (at.to_string(), "EG", e.finess.to_string(), e.open)
                        }
                    }
                }
                other => panic!("{other:?}"),
            })
            .collect();
        let expected = [
            ("pmej #1", "EJ", "010000339", true),
            ("pmej #1 ege #1", "EG", "010780906", true),
            ("pmej #1 ege #2", "EG", "010006401", true),
            ("pmej #2", "EJ", "010002277", true),
            ("pmej #2 ege #1", "EG", "010002285", true),
        ];
        let expected: Vec<(String, &str, String, bool)> = expected
            .iter()
            .map(|(a, k, f, o)| ((*a).to_owned(), *k, (*f).to_owned(), *o))
            .collect();
        assert_eq!(got, expected);

        let FinessItem::Record {
            record: FinessRecord::Establishment(e),
            ..
        } = &items[1]
        else {
            panic!("not an establishment");
        };
        assert_eq!(e.legal_entity.as_str(), "010000339");
        assert_eq!(
            e.display_name(),
            "EHPAD RÉSIDENCE FONTELUNE AMBERIEU-EN-BUGEY"
        );
        assert_eq!(e.category_code, "500");
        assert_eq!(e.siret.as_ref().map(|s| s.as_str()), Some("26010001100014"));
        assert_eq!(e.address.commune_code.as_deref(), Some("01004"));
        assert_eq!(e.address.postcode.as_deref(), Some("01500"));
        assert_eq!(e.address.city.as_deref(), Some("AMBERIEU EN BUGEY"));
        assert_eq!(
            e.address.one_line().as_deref(),
            Some("10 R DE LA COMMUNE 1871")
        );
        let FinessItem::Record {
            record: FinessRecord::LegalEntity(ej),
            ..
        } = &items[3]
        else {
            panic!("not a legal entity");
        };
        assert_eq!(ej.display_name(), "NOUVELLE PHARMACIE DU CHAMP DE MARS");
        assert_eq!(ej.siren.as_ref().map(|s| s.as_str()), Some("893939983"));
        assert_eq!(ej.address.commune_code.as_deref(), Some("01004"));
    }

    #[test]
    fn closed_and_odd_entries() {
        let doc = r#"{"schemaVersion":"v1.0.0","gco":[],"pmej":[
          {"informationsGeneralesPMEJ":{"numFinessPm":"010000339","denominationPm":"X"},
           "etatObjet":"A",
           "ege":[
             {"informationsGeneralesEGE":{"numFinessEge":"010780906","nomEgeCourt":"E",
               "dateFermeture":"2020-01-31","siret":"123"},
              "categorieentiteGeographiqueExercice":"297","etatObjet":"I"},
             {"informationsGeneralesEGE":{"numFinessEge":"010006401","nomEgeCourt":"E"},
              "categorieentiteGeographiqueExercice":5},
             {"informationsGeneralesEGE":{"numFinessEge":"01000640","nomEgeCourt":"E"},
              "categorieentiteGeographiqueExercice":"500"}
           ]},
          {"informationsGeneralesPMEJ":{"numFinessPm":"bad"},
           "ege":[{"informationsGeneralesEGE":{"numFinessEge":"010002285"}}]},
          "not an object"
        ]}"#;
        let (summary, items) = read(doc).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(summary.legal_entities, 3);
        match &items[1] {
            FinessItem::Record {
                record: FinessRecord::Establishment(e),
                warnings,
                ..
            } => {
                assert!(!e.open);
                assert_eq!(e.closed_on, Some(jiff::civil::date(2020, 1, 31)));
                assert_eq!(e.siret, None);
                assert_eq!(warnings, &["SIRET \"123\" ignored: wrong length"]);
            }
            other => panic!("{other:?}"),
        }
        let rejections: Vec<(String, Option<&str>, &str)> = items
            .iter()
            .filter_map(|i| match i {
                FinessItem::Rejected(r) => Some((
                    r.at.to_string(),
                    r.finess.as_ref().map(|f| f.as_str()),
                    r.reason.as_str(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(rejections.len(), 5, "{rejections:?}");
        assert_eq!(rejections[0].0, "pmej #1 ege #2");
        assert_eq!(rejections[0].1, Some("010006401"));
        assert!(
            rejections[0]
                .2
                .starts_with("unexpected data: invalid type: integer `5`"),
            "{}",
            rejections[0].2
        );
        assert_eq!(
            rejections[1],
            (
                "pmej #1 ege #3".into(),
                None,
                "numFinessEge \"01000640\": wrong length"
            )
        );
        assert_eq!(
            rejections[2],
            ("pmej #2".into(), None, "numFinessPm \"bad\": wrong length")
        );
        assert_eq!(
            rejections[3],
            (
                "pmej #2 ege #1".into(),
                Some("010002285"),
                "the legal entity's numFinessPm is unreadable"
            )
        );
        assert_eq!(rejections[4].0, "pmej #3");
    }

    #[test]
    fn broken_documents_are_errors() {
        assert!(matches!(read("[]"), Err(ReadError::NotAnExtract(_))));
        assert!(matches!(
            read("finess;etalab;1"),
            Err(ReadError::NotAnExtract(_))
        ));
        assert!(matches!(
            read(r#"{"gco": []}"#),
            Err(ReadError::NotAnExtract(_))
        ));
        match read(&SAMPLE[..SAMPLE.len() / 2]) {
            Err(ReadError::Json { line, .. }) => assert!(line > 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_caller_can_stop() {
        let mut n = 0;
        let summary = read_structures_json(SAMPLE.as_bytes(), |_| {
            n += 1;
            ControlFlow::Break(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(summary.stopped);
        assert_eq!(n, 1);
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,300}") {
            let _ = read(&s);
            let _ = read(&format!(r#"{{"pmej":[{s}]}}"#));
        }
    }
}
