//! The etalab CSV extracts of FINESS (`cs1100502`, `cs1100507`, `cs1100501`).

use std::io::BufRead;

use jiff::civil::Date;

use super::{
    Address, Establishment, FinessItem, FinessRecord, LegalEntity, Location, ReadError, Rejection,
    commune_cog_code, is_category_code, opt, read_date, read_finess, read_siren, read_siret,
};
use crate::text::{Encoding, LineReader, RawLine, split_cells};

/// The first line of an etalab extract: `finess;etalab;111;2026-05-12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtalabHeader {
    /// The third cell, most likely the flow's sequence number (`111`).
    pub flow_number: Option<String>,
    /// The extraction date.
    pub extracted_on: Option<Date>,
}

/// Cells of a `structureet` line: 31 named in the 2013 notices, plus `numuai` (usually empty,
/// and indistinguishable from the trailing `;`).
const ET_CELLS: usize = 32;
/// Cells of a `structureej` line.
const EJ_CELLS: usize = 23;

/// A streaming reader of an etalab extract: one [`FinessItem`] per line after the first.
///
/// `structureet` lines give [`Establishment`]s, `structureej` lines [`LegalEntity`]s,
/// `geolocalisation` lines are [`FinessItem::Ignored`], blank lines are skipped, and any other
/// line is rejected. An IO error ends the iteration after it is returned.
pub struct EtalabReader<R> {
    lines: LineReader<R>,
    header: Option<EtalabHeader>,
    /// A first line that was data, not a header, to be yielded first.
    pending: Option<(u64, RawLine)>,
    done: bool,
}

impl<R: BufRead> EtalabReader<R> {
    /// Reads the first line. Fails when the input is empty or does not look like an etalab
    /// extract (its first line is neither `finess;etalab;…` nor a known section line).
    pub fn new(input: R) -> Result<Self, ReadError> {
        let mut lines = LineReader::new(input);
        let Some((n, first)) = lines.next_line()? else {
            return Err(ReadError::NotAnExtract("the file is empty".into()));
        };
        let RawLine::Text(text) = &first else {
            return Err(ReadError::NotAnExtract("line 1 is too long".into()));
        };
        let cells = split_cells(text, ';').unwrap_or_default();
        let first_cell = cells.first().map(|c| c.to_ascii_lowercase());
        let (header, pending) = match first_cell.as_deref() {
            Some("finess")
                if cells
                    .get(1)
                    .is_some_and(|c| c.eq_ignore_ascii_case("etalab")) =>
            {
                (
                    Some(EtalabHeader {
                        flow_number: cells.get(2).and_then(|c| opt(c)),
                        extracted_on: cells.get(3).and_then(|c| c.parse().ok()),
                    }),
                    None,
                )
            }
            Some("structureet" | "structureej" | "geolocalisation") => (None, Some((n, first))),
            _ => {
                let shown: String = text.chars().take(40).collect();
                return Err(ReadError::NotAnExtract(format!(
                    "line 1 should be `finess;etalab;…`, found {shown:?}"
                )));
            }
        };
        Ok(EtalabReader {
            lines,
            header,
            pending,
            done: false,
        })
    }

    /// The header line, when the file has one.
    pub fn header(&self) -> Option<&EtalabHeader> {
        self.header.as_ref()
    }

    /// The encodings met so far (all of them once the iteration is over).
    pub fn encoding(&self) -> Encoding {
        self.lines.encoding()
    }
}

impl<R: BufRead> Iterator for EtalabReader<R> {
    type Item = Result<FinessItem, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let (n, raw) = match self.pending.take() {
                Some(p) => p,
                None => match self.lines.next_line() {
                    Ok(Some(l)) => l,
                    Ok(None) => {
                        self.done = true;
                        return None;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(ReadError::Io(e)));
                    }
                },
            };
            match raw {
                RawLine::Text(t) if t.trim().is_empty() => continue,
                RawLine::Text(t) => return Some(Ok(parse_line(n, &t))),
                RawLine::TooLong => {
                    return Some(Ok(FinessItem::Rejected(Rejection {
                        at: Location::Line(n),
                        finess: None,
                        reason: "line too long".into(),
                    })));
                }
            }
        }
    }
}

/// Parses one data line (not the header).
pub(super) fn parse_line(n: u64, line: &str) -> FinessItem {
    let at = Location::Line(n);
    let reject = |finess, reason: String| FinessItem::Rejected(Rejection { at, finess, reason });
    let cells = match split_cells(line, ';') {
        Ok(c) => c,
        Err(e) => {
            // Still try to name the structure, so that a full import does not close it.
            let finess = line
                .split(';')
                .nth(1)
                .and_then(|c| rppsplus_domain::Finess::read(c).ok())
                .map(|r| r.finess);
            return reject(finess, e.to_string());
        }
    };
    let section = cells.first().map(String::as_str).unwrap_or_default();
    match section {
        "structureet" => match establishment(&cells) {
            Ok((e, warnings)) => FinessItem::Record {
                at,
                record: FinessRecord::Establishment(e),
                warnings,
            },
            Err((finess, reason)) => reject(finess, reason),
        },
        "structureej" => match legal_entity(&cells) {
            Ok((e, warnings)) => FinessItem::Record {
                at,
                record: FinessRecord::LegalEntity(e),
                warnings,
            },
            Err((finess, reason)) => reject(finess, reason),
        },
        "geolocalisation" => FinessItem::Ignored { at },
        other => {
            let shown: String = other.chars().take(30).collect();
            reject(None, format!("unknown section {shown:?}"))
        }
    }
}

type Parsed<T> = Result<(T, Vec<String>), (Option<rppsplus_domain::Finess>, String)>;

/// Drops the empty cell a trailing `;` leaves, then checks the count.
fn sized<'a>(cells: &'a [String], expected: usize, name: &str) -> Result<&'a [String], String> {
    let cells = match cells.split_last() {
        Some((last, rest)) if last.is_empty() && cells.len() == expected + 1 => rest,
        _ => cells,
    };
    // `numuai`, the last cell of `structureet`, may be missing altogether.
    let min = if name == "structureet" {
        expected - 1
    } else {
        expected
    };
    if cells.len() < min || cells.len() > expected {
        let range = if min == expected {
            format!("{expected}")
        } else {
            format!("{min} or {expected}")
        };
        return Err(format!(
            "{name}: expected {range} cells, found {}",
            cells.len()
        ));
    }
    Ok(cells)
}

/// The establishment of a `structureet` line.
fn establishment(all: &[String]) -> Parsed<Establishment> {
    let cells = sized(all, ET_CELLS, "structureet");
    // Read the FINESS number first, so that even a malformed line names its structure.
    let mut warnings = Vec::new();
    let finess = read_finess(
        "nofinesset",
        all.get(1).map(String::as_str).unwrap_or_default(),
        &mut warnings,
    );
    let cells = cells.map_err(|r| (finess.clone().ok(), r))?;
    let c = |i: usize| cells.get(i - 1).map(String::as_str).unwrap_or_default();
    let finess = finess.map_err(|r| (None, r))?;
    let some = Some(finess.clone());
    let legal_entity =
        read_finess("nofinessej", c(3), &mut warnings).map_err(|r| (some.clone(), r))?;
    let short_name = match (opt(c(4)), opt(c(5))) {
        (Some(rs), _) => rs,
        (None, Some(long)) => long,
        (None, None) => return Err((some, "no name (rs and rslongue are empty)".into())),
    };
    let category_code = c(19).to_owned();
    if !is_category_code(&category_code) {
        return Err((
            some,
            format!("categetab {category_code:?}: expected 3 digits"),
        ));
    }
    let address = Address {
        delivery_complement: opt(c(7)),
        street_number: opt(c(8)),
        street_type: opt(c(9)),
        street_name: opt(c(10)),
        repetition: opt(c(11)),
        locality: opt(c(12)),
        ..postal(c(13), c(14), c(16), &mut warnings)
    };
    let e = Establishment {
        finess,
        legal_entity,
        short_name,
        long_name: opt(c(5)),
        name_complement: opt(c(6)),
        address,
        phone: opt(c(17)),
        fax: opt(c(18)),
        category_code,
        category_label: opt(c(20)),
        aggregate_code: opt(c(21)),
        siret: read_siret(c(23), &mut warnings),
        ape_code: opt(c(24)),
        pricing_mode_code: opt(c(25)),
        sph_code: opt(c(27)),
        opened_on: read_date("dateouv", c(29), &mut warnings),
        authorised_on: read_date("dateautor", c(30), &mut warnings),
        updated_on: read_date("datemaj", c(31), &mut warnings),
        closed_on: None,
        open: true,
        uai: opt(c(32)),
    };
    Ok((e, warnings))
}

/// The legal entity of a `structureej` line. The column order comes from the 2013 notice and
/// has not been checked on a recent file, so the cells that give it away (commune, département,
/// postcode line) must have their expected shape, or the line is rejected rather than misread.
fn legal_entity(all: &[String]) -> Parsed<LegalEntity> {
    let mut warnings = Vec::new();
    let finess = read_finess(
        "nofiness",
        all.get(1).map(String::as_str).unwrap_or_default(),
        &mut warnings,
    );
    let cells = sized(all, EJ_CELLS, "structureej").map_err(|r| (finess.clone().ok(), r))?;
    let c = |i: usize| cells.get(i - 1).map(String::as_str).unwrap_or_default();
    let finess = finess.map_err(|r| (None, r))?;
    let some = Some(finess.clone());
    let short_name = match (opt(c(3)), opt(c(4))) {
        (Some(rs), _) => rs,
        (None, Some(long)) => long,
        (None, None) => return Err((some, "no name (rs and rslongue are empty)".into())),
    };
    let (commune, routing, departement) = (c(12), c(13), c(14));
    if commune_cog_code(departement, commune).is_none() || split_routing(routing).is_none() {
        return Err((
            some,
            format!(
                "structureej: unexpected layout (commune {commune:?}, departement \
                 {departement:?}, ligneacheminement {routing:?})"
            ),
        ));
    }
    let address = Address {
        street_number: opt(c(6)),
        street_type: opt(c(7)),
        street_name: opt(c(8)),
        repetition: opt(c(9)),
        delivery_complement: opt(c(10)),
        locality: opt(c(11)),
        ..postal(commune, departement, routing, &mut warnings)
    };
    let e = LegalEntity {
        finess,
        short_name,
        long_name: opt(c(4)),
        name_complement: opt(c(5)),
        address,
        phone: opt(c(16)),
        legal_status_code: opt(c(17)),
        siren: read_siren(c(21), &mut warnings),
        ape_code: opt(c(22)),
        created_on: read_date("datecrea", c(23), &mut warnings),
        closed_on: None,
        open: true,
    };
    Ok((e, warnings))
}

/// Commune code, postcode and city from `commune`, `departement` and `ligneacheminement`.
fn postal(commune: &str, departement: &str, routing: &str, warnings: &mut Vec<String>) -> Address {
    let commune_code = commune_cog_code(departement, commune);
    if commune_code.is_none() && !(commune.is_empty() && departement.is_empty()) {
        warnings.push(format!(
            "commune {commune:?} of departement {departement:?}: unknown code, left empty"
        ));
    }
    let (postcode, city) = match split_routing(routing) {
        Some((p, c)) => (Some(p), c),
        None => {
            if !routing.is_empty() {
                warnings.push(format!(
                    "ligneacheminement {routing:?}: no postcode at its start"
                ));
            }
            (None, opt(routing))
        }
    };
    Address {
        postcode,
        city,
        commune_code,
        ..Address::default()
    }
}

/// `01440 VIRIAT` → (`01440`, `VIRIAT`).
fn split_routing(routing: &str) -> Option<(String, Option<String>)> {
    let b = routing.as_bytes();
    let postcode = routing.get(..5)?;
    if !postcode.bytes().all(|d| d.is_ascii_digit()) || b.get(5).is_some_and(|&c| c != b' ') {
        return None;
    }
    Some((postcode.to_owned(), routing.get(5..).and_then(opt)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rppsplus_domain::Finess;

    const SAMPLE: &str = include_str!(
        "../../../../data/samples/finess_etalab-cs1100502-stock-20260512-0339_excerpt.csv"
    );

    fn items(input: &[u8]) -> Vec<FinessItem> {
        match EtalabReader::new(input) {
            Ok(r) => r.map(|i| i.unwrap_or_else(|e| panic!("{e}"))).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn establishments(input: &[u8]) -> Vec<(u64, Establishment, Vec<String>)> {
        items(input)
            .into_iter()
            .map(|i| match i {
                FinessItem::Record {
                    at: Location::Line(n),
                    record: FinessRecord::Establishment(e),
                    warnings,
                } => (n, e, warnings),
                other => panic!("not an establishment: {other:?}"),
            })
            .collect()
    }

    fn finess(s: &str) -> Finess {
        Finess::read(s)
            .map(|r| r.finess)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn only_rejection(line: &str) -> Rejection {
        let input = format!("finess;etalab;111;2026-05-12\n{line}\n");
        match items(input.as_bytes()).as_slice() {
            [FinessItem::Rejected(r)] => r.clone(),
            other => panic!("not rejected: {other:?}"),
        }
    }

    #[test]
    fn every_sample_row_reads_without_warning() {
        let r = EtalabReader::new(SAMPLE.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.header(),
            Some(&EtalabHeader {
                flow_number: Some("111".into()),
                extracted_on: Some(jiff::civil::date(2026, 5, 12)),
            })
        );
        let rows = establishments(SAMPLE.as_bytes());
        assert_eq!(rows.len(), 14);
        for (n, e, warnings) in &rows {
            assert!(warnings.is_empty(), "line {n}: {warnings:?}");
            assert!(e.address.commune_code.is_some(), "line {n}");
            assert!(e.address.postcode.is_some(), "line {n}");
        }
        let lines: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, (2..=15).collect::<Vec<_>>());
        let communes: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.1.address.commune_code.as_deref())
            .collect();
        assert_eq!(
            communes,
            [
                "01451", "97701", "97801", "97801", "97207", "97302", "97411", "97410", "97408",
                "97606", "97610", "98613", "97302", "97209"
            ]
        );
    }

    #[test]
    fn the_first_sample_row_in_detail() {
        let (_, e, _) = establishments(SAMPLE.as_bytes()).remove(0);
        assert_eq!(
            e,
            Establishment {
                finess: finess("010000024"),
                legal_entity: finess("010780054"),
                short_name: "CH DE FLEYRIAT".into(),
                long_name: Some("CENTRE HOSPITALIER DE BOURG-EN-BRESSE FLEYRIAT".into()),
                name_complement: None,
                address: Address {
                    delivery_complement: None,
                    street_number: Some("900".into()),
                    repetition: None,
                    street_type: Some("RTE".into()),
                    street_name: Some("DE PARIS".into()),
                    locality: None,
                    postcode: Some("01440".into()),
                    city: Some("VIRIAT".into()),
                    commune_code: Some("01451".into()),
                },
                phone: Some("0474454647".into()),
                fax: Some("0474454114".into()),
                category_code: "355".into(),
                category_label: Some("Centre Hospitalier (C.H.)".into()),
                aggregate_code: Some("1102".into()),
                siret: rppsplus_domain::Siret::parse("26010004500012").ok(),
                ape_code: Some("8610Z".into()),
                pricing_mode_code: Some("03".into()),
                sph_code: Some("1".into()),
                opened_on: Some(jiff::civil::date(1979, 2, 13)),
                authorised_on: Some(jiff::civil::date(1979, 2, 13)),
                updated_on: Some(jiff::civil::date(2020, 2, 4)),
                closed_on: None,
                open: true,
                uai: None,
            }
        );
        assert_eq!(e.address.one_line().as_deref(), Some("900 RTE DE PARIS"));
    }

    #[test]
    fn quoted_names_and_address_only_in_complements() {
        let rows = establishments(SAMPLE.as_bytes());
        let mayotte = &rows[9].1;
        assert_eq!(mayotte.short_name, r#"LIEU DE VIE "MAVOUNA MEMA 1""#);
        assert_eq!(
            mayotte.display_name(),
            r#"LIEU DE VIE ET D'ACCUEIL "MAVOUNA MEMA 1""#
        );
        let alefpa = &rows[13].1;
        assert_eq!(alefpa.display_name(), "ALEFPA S.M.J.P.M");
        assert_eq!(alefpa.name_complement.as_deref(), Some("CITE BON AIR"));
        assert_eq!(
            alefpa.address.one_line().as_deref(),
            Some("ROUTE DES RELIGIEUSES")
        );
        assert_eq!(alefpa.legal_entity, finess("590799730"));
        assert_eq!(alefpa.siret, None);
        let cayenne = &rows[5].1;
        assert_eq!(cayenne.address.postcode.as_deref(), Some("97306"));
        assert_eq!(cayenne.address.city.as_deref(), Some("CAYENNE CEDEX"));
        assert_eq!(
            cayenne.address.one_line().as_deref(),
            Some("AV ALEXIS BLAISE, BP 6006")
        );
    }

    #[test]
    fn windows_1252_and_crlf_files_read_the_same() {
        let utf8 = SAMPLE.replace('\n', "\r\n");
        let latin: Vec<u8> = SAMPLE
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect();
        let mut r = EtalabReader::new(latin.as_slice()).unwrap_or_else(|e| panic!("{e}"));
        let from_latin: Vec<_> = r
            .by_ref()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.encoding(), Encoding::Windows1252);
        let mut r = EtalabReader::new(utf8.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let from_utf8: Vec<_> = r
            .by_ref()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.encoding(), Encoding::Utf8);
        assert_eq!(from_latin, from_utf8);
    }

    #[test]
    fn a_bad_key_or_bad_optional_cells_are_warnings() {
        let line = "structureet;970700186;970700178;X;;;;;;;;;123;9Z;GUADELOUPE;CEDEX;;;500;;4401;;\
                    26010004500013;;;;;;2019-13-01;;2020-02-04;";
        let input = format!("finess;etalab;111;2026-05-12\n{line}\n");
        let rows = establishments(input.as_bytes());
        let (n, e, warnings) = &rows[0];
        assert_eq!(*n, 2);
        assert_eq!(e.finess.as_str(), "970700186");
        assert_eq!(e.siret, None);
        assert_eq!(e.address.commune_code, None);
        assert_eq!(e.address.postcode, None);
        assert_eq!(e.address.city.as_deref(), Some("CEDEX"));
        assert_eq!(e.opened_on, None);
        assert_eq!(
            warnings,
            &[
                "nofinesset 970700186: check key does not match",
                "nofinessej 970700178: check key does not match",
                "commune \"123\" of departement \"9Z\": unknown code, left empty",
                "ligneacheminement \"CEDEX\": no postcode at its start",
                "SIRET \"26010004500013\" ignored: check key does not match",
                "dateouv \"2019-13-01\" ignored: not a YYYY-MM-DD date",
            ]
        );
    }

    #[test]
    fn malformed_lines_are_rejected_with_their_line_and_reason() {
        let good = SAMPLE.lines().nth(1).unwrap_or_default();
        let r = only_rejection(&good.replace("structureet;010000024", "structureet;01000002"));
        assert_eq!(r.at, Location::Line(2));
        assert_eq!(r.finess, None);
        assert_eq!(r.reason, "nofinesset \"01000002\": wrong length");

        let r = only_rejection(&good.replace(";010780054;", ";01078005X;"));
        assert_eq!(r.finess, Some(finess("010000024")));
        assert_eq!(r.reason, "nofinessej \"01078005X\": invalid characters");

        let r = only_rejection(&good.replace(";355;", ";35;"));
        assert_eq!(r.reason, "categetab \"35\": expected 3 digits");

        let r = only_rejection(&good.replace(
            "CH DE FLEYRIAT;CENTRE HOSPITALIER DE BOURG-EN-BRESSE FLEYRIAT",
            ";",
        ));
        assert_eq!(r.reason, "no name (rs and rslongue are empty)");

        let r = only_rejection("structureet;010000024;010780054;TRUNCATED");
        assert_eq!(r.reason, "structureet: expected 31 or 32 cells, found 4");
        assert_eq!(r.finess, Some(finess("010000024")), "still named");

        let r = only_rejection("structureet;010000024;\"UNCLOSED;x");
        assert_eq!(r.reason, "cell 3: quoted value not closed on this line");
        assert_eq!(r.finess, Some(finess("010000024")), "still named");

        let r = only_rejection("structure;010000024");
        assert_eq!(r.reason, "unknown section \"structure\"");

        let long = format!("structureet;{}", "x".repeat(70_000));
        assert_eq!(only_rejection(&long).reason, "line too long");
    }

    #[test]
    fn other_sections_and_blank_lines() {
        let input = "finess;etalab;106;2025-01-01\n\
                     geolocalisation;010000024;884434.5;6566836.2;1,ATLASANTE,96,BAN,EPSG:2154;2025-01-01\n\
                     \n\
                     structureej;010780054;CH DE BOURG EN BRESSE;CENTRE HOSPITALIER DE BOURG-EN-BRESSE;;900;RTE;DE PARIS;;;;053;01440 VIRIAT;01;AIN;0474454647;13;Etablissement Public Communal d'Hospitalisation;;;260100045;8610Z;1979-02-13;\n\
                     structureej;010780054;CH;;;900;RTE;DE PARIS;;;;01440 VIRIAT;053;01;AIN;0474454647;13;x;;;260100045;8610Z;1979-02-13\n";
        let items = items(input.as_bytes());
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0],
            FinessItem::Ignored {
                at: Location::Line(2)
            }
        );
        match &items[1] {
            FinessItem::Record {
                at: Location::Line(4),
                record: FinessRecord::LegalEntity(ej),
                warnings,
            } => {
                assert!(warnings.is_empty(), "{warnings:?}");
                assert_eq!(ej.finess, finess("010780054"));
                assert_eq!(ej.display_name(), "CENTRE HOSPITALIER DE BOURG-EN-BRESSE");
                assert_eq!(ej.address.commune_code.as_deref(), Some("01053"));
                assert_eq!(ej.siren.as_ref().map(|s| s.as_str()), Some("260100045"));
                assert_eq!(ej.created_on, Some(jiff::civil::date(1979, 2, 13)));
            }
            other => panic!("{other:?}"),
        }
        match &items[2] {
            FinessItem::Rejected(r) => {
                assert_eq!(r.at, Location::Line(5));
                assert!(
                    r.reason.starts_with("structureej: unexpected layout"),
                    "{}",
                    r.reason
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn files_that_are_not_extracts_are_refused() {
        for (input, reason) in [
            (&b""[..], "the file is empty"),
            (
                b"{\"pmej\": []}",
                "line 1 should be `finess;etalab;…`, found \"{\\\"pmej\\\": []}\"",
            ),
        ] {
            match EtalabReader::new(input) {
                Err(ReadError::NotAnExtract(r)) => assert_eq!(r, reason),
                Err(e) => panic!("{e}"),
                Ok(_) => panic!("accepted"),
            }
        }
        // A file without its header line still reads.
        let body: String = SAMPLE.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert_eq!(establishments(body.as_bytes()).len(), 14);
    }

    struct FailAfter<'a>(&'a [u8]);
    impl std::io::Read for FailAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_io_error_ends_the_iteration() {
        let reader = std::io::BufReader::new(FailAfter(SAMPLE.as_bytes()));
        let r = EtalabReader::new(reader).unwrap_or_else(|e| panic!("{e}"));
        let all: Vec<_> = r.collect();
        assert_eq!(all.len(), 15);
        assert!(matches!(all.last(), Some(Err(ReadError::Io(_)))));
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic(line in "\\PC{0,300}") {
            let _ = parse_line(2, &line);
        }

        #[test]
        fn sample_lines_with_one_cell_changed_never_panic(
            row in 1usize..15, cell in 0usize..33, value in "[0-9A-Za-z \";-]{0,20}"
        ) {
            let line = SAMPLE.lines().nth(row).unwrap_or_default();
            let mut cells: Vec<&str> = line.split(';').collect();
            if cell < cells.len() {
                cells[cell] = &value;
            }
            let _ = parse_line(2, &cells.join(";"));
        }

        #[test]
        fn arbitrary_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut input = b"finess;etalab;1;2026-01-01\n".to_vec();
            input.extend(bytes);
            if let Ok(r) = EtalabReader::new(input.as_slice()) {
                for item in r {
                    prop_assert!(item.is_ok());
                }
            }
        }
    }
}
