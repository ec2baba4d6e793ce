//! Reads for access decisions: a professional's situations and the registry version, in one
//! snapshot.

use std::sync::Arc;

use jiff::civil::date;
use rppsplus_store::{
    DecisionSituation, NewApiToken, NewChange, SituationChange, Store, TokenHolder,
};

use crate::fixtures::{self, at};
use crate::{Failure, Outcome};

fn change(entity_id: i64, n: i64) -> Result<NewChange, Failure> {
    Ok(NewChange {
        entity: "situation".into(),
        entity_id,
        op: "closed".into(),
        at: at(9000 + n)?,
    })
}

/// An unknown IDNPS has no person; a person without situations has an empty list; a person's
/// situations come oldest first with their establishment's FINESS, and nobody else's; the
/// version is the change-feed head.
pub async fn decision_facts_of_a_professional(store: Arc<dyn Store>) -> Outcome {
    let ej = fixtures::legal_entity(1)?;
    let eg = fixtures::establishment(2, &ej.finess)?;
    let eg2 = fixtures::establishment(3, &ej.finess)?;
    let mut tx = store.begin().await?;
    tx.upsert_structure(&ej).await?;
    let eg_id = tx.upsert_structure(&eg).await?.id();
    let eg2_id = tx.upsert_structure(&eg2).await?.id();
    let person = fixtures::person(1)?;
    let other = fixtures::person(2)?;
    let idle = fixtures::person(3)?;
    let person_id = tx.insert_person(&person).await?;
    let other_id = tx.insert_person(&other).await?;
    tx.insert_person(&idle).await?;
    let ex = tx
        .insert_exercise(&fixtures::exercise(person_id, 1)?)
        .await?;
    let other_ex = tx
        .insert_exercise(&fixtures::exercise(other_id, 2)?)
        .await?;
    let mut first = fixtures::situation(ex, person_id, eg_id, date(2020, 1, 6), 1)?;
    first.role_code = "GENR11".into();
    let mut second = fixtures::situation(ex, person_id, eg2_id, date(2024, 5, 1), 2)?;
    second.end_date = Some(date(2025, 12, 31));
    let first_id = tx.insert_situation(&first).await?;
    let second_id = tx.insert_situation(&second).await?;
    tx.insert_situation(&fixtures::situation(
        other_ex,
        other_id,
        eg_id,
        date(2021, 1, 1),
        3,
    )?)
    .await?;
    let v1 = tx.append_change(&change(first_id.0, 1)?).await?;
    let v2 = tx.append_change(&change(second_id.0, 2)?).await?;
    tx.commit().await?;
    assert!(v2 > v1);

    let unknown = store.decision_facts(&fixtures::person(99)?.idnps).await?;
    assert!(!unknown.known);
    assert!(unknown.situations.is_empty());
    assert_eq!(unknown.registry_version, v2);

    let none = store.decision_facts(&idle.idnps).await?;
    assert!(none.known);
    assert!(none.situations.is_empty());

    let facts = store.decision_facts(&person.idnps).await?;
    assert!(facts.known);
    assert_eq!(facts.registry_version, v2);
    assert_eq!(
        facts.situations,
        vec![
            DecisionSituation {
                id: first_id,
                structure: eg.finess.clone(),
                role_code: "GENR11".into(),
                start_date: date(2020, 1, 6),
                end_date: None,
                closed_at: None,
            },
            DecisionSituation {
                id: second_id,
                structure: eg2.finess.clone(),
                role_code: "GENR08".into(),
                start_date: date(2024, 5, 1),
                end_date: Some(date(2025, 12, 31)),
                closed_at: None,
            },
        ]
    );

    // With the caller's token, in the same statement: the token in force, or none.
    let token = NewApiToken {
        hash: "ab".repeat(32),
        holder: TokenHolder::System("DMP".into()),
        label: "Décisions".into(),
        at: at(9100)?,
    };
    let mut tx = store.begin().await?;
    let token_id = tx.insert_api_token(&token).await?;
    tx.commit().await?;
    let (found, with_token) = store
        .decision_facts_for_token(&person.idnps, &token.hash)
        .await?;
    assert_eq!(
        found.map(|t| (t.id, t.holder, t.last_used_at)),
        Some((token_id, token.holder.clone(), None))
    );
    assert_eq!(with_token.situations, facts.situations);
    assert!(with_token.known);
    let (none, unknown) = store
        .decision_facts_for_token(&fixtures::person(99)?.idnps, &"cd".repeat(32))
        .await?;
    assert_eq!(none, None);
    assert_eq!((unknown.known, unknown.situations.len()), (false, 0));
    // Without situations the token is read again with the person, in one snapshot: a known
    // professional without situations is told from an unknown one, with the token either way.
    let (found, idle_facts) = store
        .decision_facts_for_token(&idle.idnps, &token.hash)
        .await?;
    assert_eq!(found.map(|t| t.id), Some(token_id));
    assert!(idle_facts.known && idle_facts.situations.is_empty());
    assert_eq!(idle_facts.registry_version, v2);
    let (found, nobody) = store
        .decision_facts_for_token(&fixtures::person(99)?.idnps, &token.hash)
        .await?;
    assert_eq!(found.map(|t| t.id), Some(token_id));
    assert!(!nobody.known && nobody.situations.is_empty());
    // The last use is read, so that it is recorded at most once a minute.
    let mut tx = store.begin().await?;
    tx.touch_api_token(token_id, at(9150)?).await?;
    tx.commit().await?;
    let (found, _) = store
        .decision_facts_for_token(&person.idnps, &token.hash)
        .await?;
    assert_eq!(found.and_then(|t| t.last_used_at), Some(at(9150)?));
    let mut tx = store.begin().await?;
    tx.revoke_api_token(token_id, at(9200)?).await?;
    tx.commit().await?;
    let (revoked, _) = store
        .decision_facts_for_token(&person.idnps, &token.hash)
        .await?;
    assert_eq!(revoked, None);
    Ok(())
}

/// A closing is invisible to decisions until its transaction commits, and visible to every
/// decision that reports the version the closing's change-feed row was given, or a later one.
pub async fn decision_facts_see_a_closing_at_its_version(store: Arc<dyn Store>) -> Outcome {
    let ej = fixtures::legal_entity(1)?;
    let eg = fixtures::establishment(2, &ej.finess)?;
    let mut tx = store.begin().await?;
    tx.upsert_structure(&ej).await?;
    let eg_id = tx.upsert_structure(&eg).await?.id();
    let person = fixtures::person(1)?;
    let person_id = tx.insert_person(&person).await?;
    let ex = tx
        .insert_exercise(&fixtures::exercise(person_id, 1)?)
        .await?;
    let id = tx
        .insert_situation(&fixtures::situation(
            ex,
            person_id,
            eg_id,
            date(2020, 1, 6),
            1,
        )?)
        .await?;
    tx.commit().await?;

    let before = store.decision_facts(&person.idnps).await?;
    let mut tx = store.begin().await?;
    tx.close_situation(
        id,
        1,
        date(2025, 3, 31),
        "départ",
        Some(at(9000)?),
        at(9000)?,
    )
    .await?;
    let closed_at = tx.append_change(&change(id.0, 1)?).await?;
    assert!(closed_at > before.registry_version);
    // Not committed yet: another reader sees the situation open, at an older version.
    let during = store.decision_facts(&person.idnps).await?;
    assert_eq!(during.registry_version, before.registry_version);
    assert_eq!(during.situations[0].end_date, None);
    tx.commit().await?;

    let after = store.decision_facts(&person.idnps).await?;
    assert_eq!(after.registry_version, closed_at);
    assert_eq!(after.situations[0].end_date, Some(date(2025, 3, 31)));
    assert_eq!(after.situations[0].closed_at, Some(at(9000)?));
    Ok(())
}

/// A decision reads the FINESS kept on the situation: moving a situation to another
/// establishment moves it at once, and in the same snapshot as the move's change-feed row.
pub async fn decision_facts_follow_a_change_of_establishment(store: Arc<dyn Store>) -> Outcome {
    let ej = fixtures::legal_entity(1)?;
    let eg = fixtures::establishment(2, &ej.finess)?;
    let eg2 = fixtures::establishment(3, &ej.finess)?;
    let mut tx = store.begin().await?;
    tx.upsert_structure(&ej).await?;
    let eg_id = tx.upsert_structure(&eg).await?.id();
    let eg2_id = tx.upsert_structure(&eg2).await?.id();
    let person = fixtures::person(1)?;
    let person_id = tx.insert_person(&person).await?;
    let ex = tx
        .insert_exercise(&fixtures::exercise(person_id, 1)?)
        .await?;
    let new = fixtures::situation(ex, person_id, eg_id, date(2020, 1, 6), 1)?;
    let id = tx.insert_situation(&new).await?;
    tx.commit().await?;

    let before = store.decision_facts(&person.idnps).await?;
    assert_eq!(before.situations.len(), 1);
    assert_eq!(before.situations[0].structure, eg.finess);

    let mut tx = store.begin().await?;
    tx.update_situation(
        id,
        1,
        &SituationChange {
            exercise_last_name: "DUPONT".into(),
            exercise_first_name: "Marie".into(),
            profession_code: "313".into(),
            role_code: "GENR11".into(),
            practice_mode: new.practice_mode.clone(),
            structure: eg2_id,
            start_date: new.start_date,
            end_date: None,
            closed_at: None,
            at: at(9300)?,
        },
    )
    .await?;
    let moved_at = tx.append_change(&change(id.0, 3)?).await?;
    // Not committed yet: another reader still sees the first establishment.
    let during = store.decision_facts(&person.idnps).await?;
    assert_eq!(during.situations[0].structure, eg.finess);
    tx.commit().await?;

    let after = store.decision_facts(&person.idnps).await?;
    assert_eq!(after.registry_version, moved_at);
    assert_eq!(
        after.situations,
        vec![DecisionSituation {
            id,
            structure: eg2.finess.clone(),
            role_code: "GENR11".into(),
            start_date: date(2020, 1, 6),
            end_date: None,
            closed_at: None,
        }]
    );
    Ok(())
}

/// A situation closed at once keeps the instant of its closing through later edits: a decision
/// asked about an instant between the closing and an exercise-name correction denies, and the
/// directory agrees. Moving the end date into the future reopens it until then.
pub async fn a_closing_at_once_survives_a_later_edit(store: Arc<dyn Store>) -> Outcome {
    use rppsplus_domain::decision::{Reason, SituationFacts, Verdict, decide};
    use rppsplus_domain::situation::closed_at_after_write;
    use rppsplus_store::{PageOrder, Paging, RoleQuery};

    let ej = fixtures::legal_entity(1)?;
    let eg = fixtures::establishment(2, &ej.finess)?;
    let mut tx = store.begin().await?;
    tx.upsert_structure(&ej).await?;
    let eg_id = tx.upsert_structure(&eg).await?.id();
    let person = fixtures::person(1)?;
    let person_id = tx.insert_person(&person).await?;
    let ex = tx
        .insert_exercise(&fixtures::exercise(person_id, 1)?)
        .await?;
    let mut new = fixtures::situation(ex, person_id, eg_id, date(2020, 1, 6), 1)?;
    new.role_code = "GENR11".into();
    let id = tx.insert_situation(&new).await?;
    tx.commit().await?;

    // 10:00 in Paris on 27 November 2026: closed with that day's date, so at once.
    let today = date(2026, 11, 27);
    let instant = |h: i8| -> Result<jiff::Timestamp, Failure> {
        Ok(today.at(h, 0, 0, 0).in_tz("Europe/Paris")?.timestamp())
    };
    let (before, closing, between, edit) = (instant(9)?, instant(10)?, instant(12)?, instant(15)?);
    let mut tx = store.begin().await?;
    let closed_at = closed_at_after_write(None, Some(today), closing);
    assert_eq!(closed_at, Some(closing));
    tx.close_situation(id, 1, today, "Fin de contrat", closed_at, closing)
        .await?;
    tx.commit().await?;

    // 15:00: the exercise names are corrected; the end date stays.
    let mut tx = store.begin().await?;
    let closed = tx.situation(id).await?.ok_or("the situation exists")?;
    assert_eq!(closed.closed_at, Some(closing));
    let correction = |closed_at, end_date, at| SituationChange {
        exercise_last_name: "DUPONT-MARTIN".into(),
        exercise_first_name: "Marie".into(),
        profession_code: closed.exercise.profession_code.clone(),
        role_code: closed.record.role_code.clone(),
        practice_mode: closed.record.practice_mode.clone(),
        structure: eg_id,
        start_date: closed.record.start_date,
        end_date,
        closed_at,
        at,
    };
    let kept = closed_at_after_write(closed.closed_at, closed.record.end_date, edit);
    tx.update_situation(id, 2, &correction(kept, closed.record.end_date, edit))
        .await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let edited = tx.situation(id).await?.ok_or("the situation exists")?;
    drop(tx);
    assert_eq!(edited.updated_at, edit);
    assert_eq!(edited.closed_at, Some(closing), "an edit does not move it");
    assert_eq!(edited.exercise.exercise_last_name, "DUPONT-MARTIN");

    let facts = store.decision_facts(&person.idnps).await?;
    assert_eq!(facts.situations.len(), 1);
    assert_eq!(facts.situations[0].closed_at, Some(closing));
    let situations: Vec<SituationFacts> = facts
        .situations
        .iter()
        .map(|s| SituationFacts {
            id: s.id.0,
            structure: s.structure.as_str().to_owned(),
            role_code: s.role_code.clone(),
            start_date: s.start_date,
            end_date: s.end_date,
            closed_at: s.closed_at,
        })
        .collect();
    let loinc = "http://loinc.org";
    let ask = |at| decide(loinc, "11488-4", Some(&situations), None, at);
    assert_eq!(ask(before).verdict, Verdict::Permit);
    assert_eq!(ask(closing).reason, Reason::NoActiveSituation);
    assert_eq!(ask(between).reason, Reason::NoActiveSituation);
    assert_eq!(ask(edit).reason, Reason::NoActiveSituation);

    // The directory judges it the same way, in SQL and in its rows.
    let page = Paging {
        order: PageOrder::Id,
        after: None,
        limit: 10,
    };
    let in_force = RoleQuery {
        active: Some(true),
        ..Default::default()
    };
    let active_at = |rows: Vec<rppsplus_store::DirectoryRole>| {
        rows.iter().map(|r| (r.id, r.active)).collect::<Vec<_>>()
    };
    assert_eq!(
        active_at(store.directory_roles(&in_force, &page, before).await?),
        vec![(id, true)]
    );
    assert!(
        store
            .directory_roles(&in_force, &page, between)
            .await?
            .is_empty()
    );
    assert_eq!(
        active_at(
            store
                .directory_roles(&RoleQuery::default(), &page, between)
                .await?
        ),
        vec![(id, false)]
    );

    // 16:00: the end date moves to the end of the year: open again until then.
    let later = instant(16)?;
    let year_end = Some(date(2026, 12, 31));
    let reopened = closed_at_after_write(edited.closed_at, year_end, later);
    assert_eq!(reopened, None);
    let mut tx = store.begin().await?;
    tx.update_situation(id, 3, &correction(reopened, year_end, later))
        .await?;
    tx.commit().await?;
    let facts = store.decision_facts(&person.idnps).await?;
    assert_eq!(facts.situations[0].closed_at, None);
    assert_eq!(
        active_at(store.directory_roles(&in_force, &page, later).await?),
        vec![(id, true)]
    );
    Ok(())
}

/// Migration `…12_situation_closed_at` gives the closings recorded before it their instant:
/// those recorded on or after their end date in Europe/Paris (winter and summer time, either
/// side of midnight), from their `updated_at`; scheduled departures and situations never closed
/// get none.
pub async fn closed_at_is_backfilled_by_its_migration(
    db: &rppsplus_test_support::db::TestDb,
) -> Outcome {
    use rppsplus_test_support::db::BackendStore;

    const BEFORE: i64 = 20261127000011;
    match &db.backend_store {
        BackendStore::Sqlite(s) => s.migrate_to(BEFORE).await?,
        BackendStore::Postgres(s) => s.migrate_to(BEFORE).await?,
    }
    let ej = fixtures::legal_entity(1)?;
    let eg = fixtures::establishment(2, &ej.finess)?;
    let mut tx = db.store.begin().await?;
    tx.upsert_structure(&ej).await?;
    let eg_id = tx.upsert_structure(&eg).await?.id();
    let person_id = tx.insert_person(&fixtures::person(1)?).await?;
    let ex = tx
        .insert_exercise(&fixtures::exercise(person_id, 1)?)
        .await?;
    // (end date, end reason, last change in UTC, closed at once by the former rule)
    const END: Option<&str> = Some("Fin");
    let cases = [
        // 10:00 in Paris, closed with that day's date.
        (date(2026, 11, 27), END, "2026-11-27T09:00:00Z", true),
        // A past end date.
        (date(2026, 10, 31), END, "2026-11-27T09:00:00Z", true),
        // A scheduled departure.
        (date(2026, 12, 31), END, "2026-11-27T09:00:00Z", false),
        // 00:30 on 28 November in Paris (UTC+1), closed with the 28th: at once.
        (date(2026, 11, 28), END, "2026-11-27T23:30:00Z", true),
        // 23:30 on 27 November in Paris, closed with the 28th: scheduled.
        (date(2026, 11, 28), END, "2026-11-27T22:30:00Z", false),
        // 00:30 on 1 July in Paris (UTC+2), closed with the 1st: at once.
        (date(2026, 7, 1), END, "2026-06-30T22:30:00Z", true),
        // 23:30 on 30 June in Paris, closed with 1 July: scheduled.
        (date(2026, 7, 1), END, "2026-06-30T21:30:00Z", false),
        // Registered with a past end date, never closed.
        (date(2026, 10, 31), None, "2026-11-27T09:00:00Z", false),
    ];
    let mut ids = Vec::new();
    for (n, _) in (1_i64..).zip(cases.iter()) {
        let new = fixtures::situation(ex, person_id, eg_id, date(2020, 1, 6), n)?;
        ids.push(tx.insert_situation(&new).await?);
    }
    tx.commit().await?;
    for (id, (end, reason, changed, _)) in ids.iter().zip(cases.iter()) {
        let changed: jiff::Timestamp = changed.parse()?;
        match &db.backend_store {
            BackendStore::Sqlite(s) => {
                sqlx::query(
                    "UPDATE situations SET end_date = $1, end_reason = $2, updated_at = $3
                     WHERE id = $4",
                )
                .bind(end.to_string())
                .bind(*reason)
                .bind(changed.as_microsecond())
                .bind(id.0)
                .execute(s.pool())
                .await?;
            }
            BackendStore::Postgres(s) => {
                sqlx::query(
                    "UPDATE situations
                     SET end_date = $1::date, end_reason = $2, updated_at = $3::timestamptz
                     WHERE id = $4",
                )
                .bind(end.to_string())
                .bind(*reason)
                .bind(changed.to_string())
                .bind(id.0)
                .execute(s.pool())
                .await?;
            }
        }
    }

    db.store.migrate().await?;
    let mut tx = db.store.begin().await?;
    for (id, (end, _, changed, at_once)) in ids.iter().zip(cases.iter()) {
        let s = tx.situation(*id).await?.ok_or("the situation exists")?;
        let changed: jiff::Timestamp = changed.parse()?;
        assert_eq!(
            s.closed_at,
            at_once.then_some(changed),
            "end date {end}, changed at {changed}"
        );
    }
    Ok(())
}
