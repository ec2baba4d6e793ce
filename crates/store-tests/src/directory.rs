//! Directory reads (the FHIR API's searches): who is a practitioner, text searches that ignore
//! case and accents, identifiers, situations in force, structures, the last update of a
//! practitioner, and keyset pages that stay consistent while rows are added and changed.

use std::collections::HashSet;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::date;
use rppsplus_store::{
    DirectoryPractitioner, Keyset, OrganizationQuery, PageOrder, Paging, PersonId, PersonIdFilter,
    PersonIdKind, PractitionerQuery, RoleCodeFilter, RoleField, RoleQuery, SituationChange, Store,
    StructureId, StructureIdFilter, StructureIdKind, StructureKind, StructureTypeFilter,
    TextFilter, TextMatch, TimeBound,
};

use crate::fixtures::{self, at};
use crate::{Failure, Outcome};

fn page(limit: u32) -> Paging {
    Paging {
        order: PageOrder::Id,
        after: None,
        limit,
    }
}

fn text(mode: TextMatch, v: &str) -> TextFilter {
    TextFilter {
        mode,
        any_of: vec![v.to_owned()],
    }
}

fn ids(rows: &[DirectoryPractitioner]) -> Vec<PersonId> {
    rows.iter().map(|p| p.id).collect()
}

/// An instant on the civil date `d`, at noon in Paris.
fn noon(y: i16, m: i8, d: i8) -> Result<Timestamp, Failure> {
    Ok(date(y, m, d)
        .at(12, 0, 0, 0)
        .in_tz("Europe/Paris")?
        .timestamp())
}

/// Two practitioners (one with a situation in force, one whose only situation was closed
/// today, at once), and a person without any exercise, who is not a practitioner.
struct Registry {
    eg: StructureId,
    eg_finess: String,
    ej: StructureId,
    active: PersonId,
    closed: PersonId,
    active_rpps: String,
    active_idnps: String,
}

async fn registry(store: &Arc<dyn Store>, now: Timestamp) -> Result<Registry, Failure> {
    let ej = fixtures::legal_entity(1)?;
    let mut eg = fixtures::establishment(2, &ej.finess)?;
    eg.open = true;
    eg.closed_on = None;
    eg.city = Some("Saint-Étienne".into());
    eg.postcode = Some("42000".into());
    let mut tx = store.begin().await?;
    let ej_id = tx.upsert_structure(&ej).await?.id();
    let eg_id = tx.upsert_structure(&eg).await?.id();
    let a = fixtures::person(1)?;
    let b = fixtures::person(2)?;
    let idle = fixtures::person(3)?;
    let a_id = tx.insert_person(&a).await?;
    let b_id = tx.insert_person(&b).await?;
    tx.insert_person(&idle).await?;
    let mut ex_a = fixtures::exercise(a_id, 1)?;
    ex_a.exercise_last_name = "Lefèvre-Durand".into();
    ex_a.exercise_first_name = "Élodie".into();
    let ex_a = tx.insert_exercise(&ex_a).await?;
    let mut ex_b = fixtures::exercise(b_id, 2)?;
    ex_b.profession_code = "328".into();
    ex_b.exercise_last_name = "Martin".into();
    ex_b.exercise_first_name = "Paul".into();
    let ex_b = tx.insert_exercise(&ex_b).await?;
    tx.insert_situation(&fixtures::situation(
        ex_a,
        a_id,
        eg_id,
        date(2020, 1, 6),
        1,
    )?)
    .await?;
    let mut sb = fixtures::situation(ex_b, b_id, eg_id, date(2021, 3, 1), 2)?;
    sb.role_code = "GENR11".into();
    sb.practice_mode = "L".into();
    let sb_id = tx.insert_situation(&sb).await?;
    // Closed today, recorded now: out of force at once.
    let today = rppsplus_domain::situation::paris_date(now);
    tx.close_situation(sb_id, 1, today, "Fin de contrat", Some(now), now)
        .await?;
    tx.commit().await?;
    Ok(Registry {
        eg: eg_id,
        eg_finess: eg.finess.as_str().to_owned(),
        ej: ej_id,
        active: a_id,
        closed: b_id,
        active_rpps: a
            .rpps
            .as_ref()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        active_idnps: a.idnps.as_str().to_owned(),
    })
}

/// Practitioners are the persons with an exercise; their public fields come back; names match
/// by case- and accent-insensitive prefix, exactly, or by a part; identifiers, professions and
/// being in force filter as asked, and the count agrees.
pub async fn directory_searches_practitioners(store: Arc<dyn Store>) -> Outcome {
    let now = noon(2026, 11, 27)?;
    let r = registry(&store, now).await?;
    let find = |q: PractitionerQuery| {
        let store = store.clone();
        async move {
            Ok::<_, Failure>(ids(&store
                .directory_practitioners(&q, &page(50), now)
                .await?))
        }
    };

    let all = store
        .directory_practitioners(&PractitionerQuery::default(), &page(50), now)
        .await?;
    assert_eq!(ids(&all), vec![r.active, r.closed]);
    let a = &all[0];
    assert!(a.active);
    assert!(
        !all[1].active,
        "its only situation was closed at once today"
    );
    assert_eq!(a.idnps.as_str(), r.active_idnps);
    assert_eq!(a.exercises.len(), 1);
    assert_eq!(a.exercises[0].last_name, "Lefèvre-Durand");
    assert_eq!(a.exercises[0].exercise_civility.as_deref(), Some("DR"));
    assert_eq!(a.civility, "MME");
    assert_eq!(
        store
            .count_directory_practitioners(&PractitionerQuery::default(), now)
            .await?,
        2
    );

    for (mode, v, expected) in [
        (TextMatch::Prefix, "lefe", vec![r.active]),
        (TextMatch::Prefix, "LEFÈVRE DU", vec![r.active]),
        (TextMatch::Prefix, "lefèvre-durand", vec![r.active]),
        (TextMatch::Prefix, "efe", vec![]),
        (TextMatch::Exact, "Lefèvre-Durand", vec![r.active]),
        (TextMatch::Exact, "lefevre-durand", vec![]),
        (TextMatch::Exact, "Lefèvre", vec![]),
        (TextMatch::Contains, "FÈVRE", vec![r.active]),
        (TextMatch::Contains, "tin", vec![r.closed]),
    ] {
        let q = PractitionerQuery {
            family: vec![text(mode, v)],
            ..Default::default()
        };
        assert_eq!(find(q).await?, expected, "family {mode:?} {v}");
    }
    let q = PractitionerQuery {
        given: vec![text(TextMatch::Prefix, "elo")],
        family: vec![text(TextMatch::Prefix, "lef")],
        ..Default::default()
    };
    assert_eq!(find(q).await?, vec![r.active]);
    // `name` looks in both names; alternatives are OR, repeated filters AND.
    let q = PractitionerQuery {
        name: vec![TextFilter {
            mode: TextMatch::Prefix,
            any_of: vec!["paul".into(), "élo".into()],
        }],
        ..Default::default()
    };
    assert_eq!(find(q).await?, vec![r.active, r.closed]);
    let q = PractitionerQuery {
        name: vec![
            text(TextMatch::Prefix, "paul"),
            text(TextMatch::Prefix, "élo"),
        ],
        ..Default::default()
    };
    assert_eq!(find(q).await?, Vec::<PersonId>::new());

    let by_id = |kind, value: &str| PractitionerQuery {
        identifiers: vec![vec![PersonIdFilter {
            kind,
            value: value.to_owned(),
        }]],
        ..Default::default()
    };
    assert_eq!(
        find(by_id(Some(PersonIdKind::Rpps), &r.active_rpps)).await?,
        vec![r.active]
    );
    assert_eq!(find(by_id(None, &r.active_idnps)).await?, vec![r.active]);
    assert_eq!(
        find(by_id(Some(PersonIdKind::Rpps), &r.active_idnps)).await?,
        Vec::<PersonId>::new()
    );
    let q = PractitionerQuery {
        identifiers: vec![vec![]],
        ..Default::default()
    };
    assert!(find(q).await?.is_empty(), "an empty clause matches nothing");

    let q = PractitionerQuery {
        professions: vec![vec!["328".into(), "999".into()]],
        ..Default::default()
    };
    assert_eq!(find(q).await?, vec![r.closed]);

    for (active, expected) in [(true, vec![r.active]), (false, vec![r.closed])] {
        let q = PractitionerQuery {
            active: Some(active),
            ..Default::default()
        };
        assert_eq!(find(q.clone()).await?, expected);
        assert_eq!(store.count_directory_practitioners(&q, now).await?, 1);
    }
    // The day before, the closed situation was still in force.
    let q = PractitionerQuery {
        active: Some(true),
        ..Default::default()
    };
    let yesterday = noon(2026, 11, 26)?;
    let rows = store
        .directory_practitioners(&q, &page(50), yesterday)
        .await?;
    assert_eq!(ids(&rows), vec![r.active, r.closed]);
    Ok(())
}

/// Situations by person, establishment, code and force (a closing recorded today on today's
/// date ends it at once; a departure scheduled later leaves it in force); structures by
/// identifier, kind, category, legal entity, name, city and postcode.
pub async fn directory_searches_roles_and_organizations(store: Arc<dyn Store>) -> Outcome {
    let now = noon(2026, 11, 27)?;
    let r = registry(&store, now).await?;
    let roles = |q: RoleQuery, at: Timestamp| {
        let store = store.clone();
        async move {
            Ok::<_, Failure>(
                store
                    .directory_roles(&q, &page(50), at)
                    .await?
                    .into_iter()
                    .map(|r| (r.person, r.active))
                    .collect::<Vec<_>>(),
            )
        }
    };
    let all = store
        .directory_roles(&RoleQuery::default(), &page(50), now)
        .await?;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].profession_code, "328");
    assert_eq!(all[1].end_date, Some(date(2026, 11, 27)));
    assert_eq!(all[1].structure, r.eg);
    assert_eq!(
        roles(RoleQuery::default(), now).await?,
        vec![(r.active, true), (r.closed, false)]
    );
    let q = RoleQuery {
        practitioners: vec![vec![r.closed]],
        ..Default::default()
    };
    assert_eq!(roles(q, now).await?, vec![(r.closed, false)]);
    let q = RoleQuery {
        organizations: vec![vec![r.ej]],
        ..Default::default()
    };
    assert!(roles(q, now).await?.is_empty());
    for (field, code, expected) in [
        (Some(RoleField::Genre), "GENR11", vec![(r.closed, false)]),
        (Some(RoleField::PracticeMode), "S", vec![(r.active, true)]),
        (Some(RoleField::Profession), "328", vec![(r.closed, false)]),
        (None, "GENR08", vec![(r.active, true)]),
        (Some(RoleField::Genre), "S", vec![]),
    ] {
        let q = RoleQuery {
            codes: vec![vec![RoleCodeFilter {
                field,
                code: code.into(),
            }]],
            ..Default::default()
        };
        assert_eq!(roles(q, now).await?, expected, "{field:?} {code}");
    }
    let q = RoleQuery {
        active: Some(false),
        ..Default::default()
    };
    assert_eq!(roles(q.clone(), now).await?, vec![(r.closed, false)]);
    assert_eq!(store.count_directory_roles(&q, now).await?, 1);

    // A departure scheduled for a later day leaves the situation in force until then.
    let mut tx = store.begin().await?;
    let s = tx
        .situations_of_person(r.active)
        .await?
        .into_iter()
        .next()
        .ok_or("situation")?;
    tx.close_situation(s.id, s.version, date(2026, 12, 31), "Départ", None, now)
        .await?;
    tx.commit().await?;
    let q = RoleQuery {
        active: Some(true),
        ..Default::default()
    };
    assert_eq!(roles(q.clone(), now).await?, vec![(r.active, true)]);
    assert!(roles(q, noon(2027, 1, 1)?).await?.is_empty());

    let orgs = |q: OrganizationQuery| {
        let store = store.clone();
        async move {
            Ok::<_, Failure>(
                store
                    .directory_organizations(&q, &page(50))
                    .await?
                    .into_iter()
                    .map(|o| o.structure.id)
                    .collect::<Vec<_>>(),
            )
        }
    };
    let all = store
        .directory_organizations(&OrganizationQuery::default(), &page(50))
        .await?;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].part_of, None);
    assert_eq!(all[1].part_of, Some(r.ej), "the EG is part of its EJ");
    let by_identifier = |kind, value: &str| OrganizationQuery {
        identifiers: vec![vec![StructureIdFilter {
            kind,
            value: value.to_owned(),
        }]],
        ..Default::default()
    };
    assert_eq!(
        orgs(by_identifier(Some(StructureIdKind::Finess), &r.eg_finess)).await?,
        vec![r.eg]
    );
    assert_eq!(
        orgs(by_identifier(Some(StructureIdKind::FinessEj), &r.eg_finess)).await?,
        vec![]
    );
    assert_eq!(
        orgs(by_identifier(
            Some(StructureIdKind::Idnst),
            &format!("1{}", r.eg_finess)
        ))
        .await?,
        vec![r.eg]
    );
    assert_eq!(
        orgs(by_identifier(None, "73282932000074")).await?,
        vec![r.eg],
        "a SIRET"
    );
    for (filter, expected) in [
        (StructureTypeFilter::Kind(StructureKind::Ej), vec![r.ej]),
        (StructureTypeFilter::Kind(StructureKind::Eg), vec![r.eg]),
        (StructureTypeFilter::Category("500".into()), vec![r.eg]),
        (StructureTypeFilter::Category("620".into()), vec![]),
    ] {
        let q = OrganizationQuery {
            types: vec![vec![filter.clone()]],
            ..Default::default()
        };
        assert_eq!(orgs(q).await?, expected, "{filter:?}");
    }
    let q = OrganizationQuery {
        part_of: vec![vec![r.ej]],
        ..Default::default()
    };
    assert_eq!(orgs(q).await?, vec![r.eg]);
    for (name, expected) in [
        ("ehpad les til", vec![r.eg]),
        ("CENTRE HOSP", vec![r.ej]),
        ("tilleuls", vec![]),
    ] {
        let q = OrganizationQuery {
            name: vec![text(TextMatch::Prefix, name)],
            ..Default::default()
        };
        assert_eq!(orgs(q).await?, expected, "name {name}");
    }
    let q = OrganizationQuery {
        name: vec![text(TextMatch::Contains, "tilleuls")],
        ..Default::default()
    };
    assert_eq!(orgs(q).await?, vec![r.eg]);
    let q = OrganizationQuery {
        city: vec![text(TextMatch::Prefix, "saint etien")],
        ..Default::default()
    };
    assert_eq!(orgs(q).await?, vec![r.eg]);
    let q = OrganizationQuery {
        postcode: vec![text(TextMatch::Prefix, "42")],
        ..Default::default()
    };
    assert_eq!(orgs(q).await?, vec![r.eg]);
    let q = OrganizationQuery {
        address: vec![text(TextMatch::Prefix, "75014")],
        ..Default::default()
    };
    assert_eq!(orgs(q).await?, vec![r.ej]);
    let q = OrganizationQuery {
        active: Some(false),
        ..Default::default()
    };
    assert_eq!(orgs(q.clone()).await?, vec![]);
    assert_eq!(store.count_directory_organizations(&q).await?, 0);
    Ok(())
}

/// A practitioner's last update is the latest change of the person or of one of their
/// situations (created, changed, closed), and `_lastUpdated` bounds filter on it.
pub async fn practitioner_last_update_follows_their_situations(store: Arc<dyn Store>) -> Outcome {
    let ej = fixtures::legal_entity(1)?;
    let eg = fixtures::establishment(2, &ej.finess)?;
    let mut tx = store.begin().await?;
    tx.upsert_structure(&ej).await?;
    let eg_id = tx.upsert_structure(&eg).await?.id();
    let mut p = fixtures::person(1)?;
    p.at = at(10)?;
    let id = tx.insert_person(&p).await?;
    let ex = tx.insert_exercise(&fixtures::exercise(id, 1)?).await?;
    let mut s = fixtures::situation(ex, id, eg_id, date(2020, 1, 6), 1)?;
    s.at = at(20)?;
    let s_id = tx.insert_situation(&s).await?;
    tx.commit().await?;
    let now = at(1_000_000)?;
    let one = |q: PractitionerQuery| {
        let store = store.clone();
        async move {
            Ok::<_, Failure>(
                store
                    .directory_practitioners(&q, &page(5), now)
                    .await?
                    .first()
                    .map(|p| p.last_updated),
            )
        }
    };
    assert_eq!(one(PractitionerQuery::default()).await?, Some(at(20)?));

    let mut tx = store.begin().await?;
    tx.update_situation(
        s_id,
        1,
        &SituationChange {
            exercise_last_name: "DURAND".into(),
            exercise_first_name: "ELODIE".into(),
            profession_code: "60".into(),
            role_code: "GENR09".into(),
            practice_mode: "S".into(),
            structure: eg_id,
            start_date: date(2020, 1, 6),
            end_date: None,
            closed_at: None,
            at: at(30)?,
        },
    )
    .await?;
    tx.commit().await?;
    assert_eq!(one(PractitionerQuery::default()).await?, Some(at(30)?));
    let q = PractitionerQuery {
        family: vec![text(TextMatch::Exact, "DURAND")],
        ..Default::default()
    };
    assert_eq!(
        one(q).await?,
        Some(at(30)?),
        "the new exercise name is searched"
    );

    let mut tx = store.begin().await?;
    tx.close_situation(s_id, 2, date(2026, 1, 31), "Fin", None, at(40)?)
        .await?;
    tx.commit().await?;
    assert_eq!(one(PractitionerQuery::default()).await?, Some(at(40)?));

    let mut tx = store.begin().await?;
    let mut changed = p.clone();
    changed.email = Some("autre@example.org".into());
    changed.at = at(50)?;
    tx.update_person(id, 1, &changed).await?;
    tx.commit().await?;
    assert_eq!(one(PractitionerQuery::default()).await?, Some(at(50)?));

    for (bound, found) in [
        (TimeBound::AtLeast(at(50)?), true),
        (TimeBound::AtLeast(at(51)?), false),
        (TimeBound::Before(at(50)?), false),
        (TimeBound::Before(at(51)?), true),
        (TimeBound::Outside(at(49)?, at(51)?), false),
        (TimeBound::Outside(at(51)?, at(52)?), true),
    ] {
        let q = PractitionerQuery {
            last_updated: vec![bound],
            ..Default::default()
        };
        assert_eq!(one(q).await?.is_some(), found, "{bound:?}");
    }
    // The situation's own last update.
    let roles = store
        .directory_roles(&RoleQuery::default(), &page(5), now)
        .await?;
    assert_eq!(roles.first().map(|r| r.last_updated), Some(at(40)?));
    Ok(())
}

async fn add_practitioners(
    store: &Arc<dyn Store>,
    eg: StructureId,
    from: u64,
    count: u64,
) -> Result<Vec<PersonId>, Failure> {
    let mut tx = store.begin().await?;
    let mut out = Vec::new();
    for n in from..from + count {
        let id = tx.insert_person(&fixtures::person(n)?).await?;
        let ex = tx
            .insert_exercise(&fixtures::exercise(id, n as i64)?)
            .await?;
        tx.insert_situation(&fixtures::situation(
            ex,
            id,
            eg,
            date(2020, 1, 6),
            n as i64,
        )?)
        .await?;
        out.push(id);
    }
    tx.commit().await?;
    Ok(out)
}

/// Paging through every practitioner by keyset while others are added: every practitioner that
/// existed at the start is seen exactly once. Paging a delta feed (by last update) while one
/// is changed: every one is seen, the changed one again after its change.
pub async fn keyset_pages_stay_consistent_while_rows_change(store: Arc<dyn Store>) -> Outcome {
    let ej = fixtures::legal_entity(1)?;
    let eg = fixtures::establishment(2, &ej.finess)?;
    let mut tx = store.begin().await?;
    tx.upsert_structure(&ej).await?;
    let eg = tx.upsert_structure(&eg).await?.id();
    tx.commit().await?;
    let existing = add_practitioners(&store, eg, 1, 23).await?;
    let now = at(1_000_000)?;
    let q = PractitionerQuery::default();

    let mut seen = Vec::new();
    let mut after = None;
    let mut added = 100;
    loop {
        let p = Paging {
            order: PageOrder::Id,
            after,
            limit: 5,
        };
        let rows = store.directory_practitioners(&q, &p, now).await?;
        let Some(last) = rows.last() else { break };
        after = Some(Keyset {
            last_updated: None,
            id: last.id.0,
        });
        seen.extend(ids(&rows));
        // Others register meanwhile (while the client is still among the first rows).
        if added < 110 {
            add_practitioners(&store, eg, added, 2).await?;
            added += 2;
        }
    }
    let unique: HashSet<PersonId> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no practitioner twice: {seen:?}");
    for id in &existing {
        assert!(unique.contains(id), "{id} was missed");
    }

    // A delta feed by last update, while the first one seen changes.
    let q = PractitionerQuery {
        last_updated: vec![TimeBound::AtLeast(at(0)?)],
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut after = None;
    let mut changed = None;
    loop {
        let p = Paging {
            order: PageOrder::LastUpdated,
            after,
            limit: 7,
        };
        let rows = store.directory_practitioners(&q, &p, now).await?;
        let Some(last) = rows.last() else { break };
        after = Some(Keyset {
            last_updated: Some(last.last_updated),
            id: last.id.0,
        });
        for r in &rows {
            seen.push((r.id, r.last_updated));
        }
        if changed.is_none() {
            let first = rows[0].id;
            let mut tx = store.begin().await?;
            let person = tx.person(first).await?.ok_or("person")?;
            let mut record = person.record.clone();
            record.at = at(900_000)?;
            tx.update_person(first, person.version, &record).await?;
            tx.commit().await?;
            changed = Some(first);
        }
    }
    let changed = changed.ok_or("nothing changed")?;
    for id in &existing {
        assert!(seen.iter().any(|(s, _)| s == id), "{id} was missed");
    }
    let of_changed: Vec<Timestamp> = seen
        .iter()
        .filter(|(id, _)| *id == changed)
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(of_changed.len(), 2, "seen before and after its change");
    assert_eq!(of_changed[1], at(900_000)?);
    let mut order = seen.clone();
    order.sort_by_key(|(id, t)| (*t, id.0));
    assert_eq!(order, seen, "pages follow (last update, id)");
    Ok(())
}
