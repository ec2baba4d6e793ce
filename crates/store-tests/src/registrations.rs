//! Registering professionals: candidates by birth date, contact lookups, situation changes.

use std::sync::Arc;

use jiff::civil::date;
use rppsplus_store::{SituationChange, SituationId, Store, StoreError};

use crate::Outcome;
use crate::fixtures::{self, at};

/// Persons are found by birth date, ordered by id and limited; others are not.
pub async fn persons_born_on_a_date(store: Arc<dyn Store>) -> Outcome {
    let mut tx = store.begin().await?;
    let mut same_day = Vec::new();
    for n in 1..=3 {
        same_day.push(tx.insert_person(&fixtures::person(n)?).await?);
    }
    let other = tx.insert_person(&fixtures::minimal_person(4)?).await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let found = tx.persons_born_on(date(1980, 5, 17), 10).await?;
    assert_eq!(found.iter().map(|p| p.id).collect::<Vec<_>>(), same_day);
    assert_eq!(found[0].record, fixtures::person(1)?);
    let limited = tx.persons_born_on(date(1980, 5, 17), 2).await?;
    assert_eq!(limited.len(), 2);
    let born_1975 = tx.persons_born_on(date(1975, 1, 2), 10).await?;
    assert_eq!(born_1975.iter().map(|p| p.id).collect::<Vec<_>>(), [other]);
    assert!(tx.persons_born_on(date(1990, 1, 1), 10).await?.is_empty());
    Ok(())
}

/// A person is found by their exact e-mail and mobile.
pub async fn persons_by_contact(store: Arc<dyn Store>) -> Outcome {
    let mut tx = store.begin().await?;
    let p = fixtures::person(7)?;
    let id = tx.insert_person(&p).await?;
    tx.insert_person(&fixtures::minimal_person(8)?).await?;
    let email = p.email.clone().ok_or("fixture has an e-mail")?;
    let mobile = p.mobile.clone().ok_or("fixture has a mobile")?;
    assert_eq!(tx.person_id_by_email(&email).await?, Some(id));
    assert_eq!(tx.person_id_by_mobile(&mobile).await?, Some(id));
    assert_eq!(tx.person_id_by_email("nobody@example.org").await?, None);
    assert_eq!(tx.person_id_by_mobile("+33600000000").await?, None);
    Ok(())
}

/// Updating a situation checks its version, changes the situation and its exercise and moves
/// the version on; a stale version changes nothing; an unknown id is `NotFound`.
pub async fn updating_a_situation_checks_its_version(store: Arc<dyn Store>) -> Outcome {
    let mut tx = store.begin().await?;
    let ej = fixtures::legal_entity(1)?;
    tx.upsert_structure(&ej).await?;
    let eg = tx
        .upsert_structure(&fixtures::establishment(2, &ej.finess)?)
        .await?
        .id();
    let eg2 = tx
        .upsert_structure(&fixtures::establishment(3, &ej.finess)?)
        .await?
        .id();
    let person = tx.insert_person(&fixtures::person(1)?).await?;
    let exercise = tx.insert_exercise(&fixtures::exercise(person, 1)?).await?;
    let id = tx
        .insert_situation(&fixtures::situation(
            exercise,
            person,
            eg,
            date(2020, 1, 6),
            1,
        )?)
        .await?;
    tx.commit().await?;

    let change = SituationChange {
        exercise_last_name: "MARTIN".into(),
        exercise_first_name: "Élodie".into(),
        profession_code: "328".into(),
        role_code: "GENR12".into(),
        practice_mode: "B".into(),
        structure: eg2,
        start_date: date(2020, 2, 1),
        end_date: Some(date(2027, 6, 30)),
        closed_at: None,
        at: at(9100)?,
    };
    let mut tx = store.begin().await?;
    assert_eq!(tx.update_situation(id, 1, &change).await?, 2);
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let s = tx.situation(id).await?.ok_or("the situation exists")?;
    assert_eq!(s.version, 2);
    assert_eq!(s.updated_at, change.at);
    assert_eq!(s.record.structure, eg2);
    assert_eq!(s.record.role_code, "GENR12");
    assert_eq!(s.record.practice_mode, "B");
    assert_eq!(s.record.start_date, date(2020, 2, 1));
    assert_eq!(s.record.end_date, Some(date(2027, 6, 30)));
    assert_eq!(s.exercise.profession_code, "328");
    assert_eq!(s.exercise.exercise_last_name, "MARTIN");
    assert_eq!(s.exercise.exercise_first_name, "Élodie");

    let stale = SituationChange {
        role_code: "GENR08".into(),
        exercise_last_name: "AUTRE".into(),
        ..change.clone()
    };
    assert!(matches!(
        tx.update_situation(id, 1, &stale).await,
        Err(StoreError::StaleVersion)
    ));
    assert!(matches!(
        tx.update_situation(SituationId(id.0 + 100), 1, &stale)
            .await,
        Err(StoreError::NotFound)
    ));
    let unchanged = tx.situation(id).await?.ok_or("the situation exists")?;
    assert_eq!(unchanged, s);
    Ok(())
}

/// Updating a person checks their version, replaces identity, contact and keys (never the
/// national identifiers) and moves the version on; a stale version changes nothing.
pub async fn updating_a_person_checks_their_version(store: Arc<dyn Store>) -> Outcome {
    let mut tx = store.begin().await?;
    let original = fixtures::person(3)?;
    let id = tx.insert_person(&original).await?;
    tx.commit().await?;

    let mut changed = fixtures::minimal_person(9)?;
    changed.email = Some("nouvelle@example.org".into());
    changed.at = at(9200)?;
    let mut tx = store.begin().await?;
    assert_eq!(tx.update_person(id, 1, &changed).await?, 2);
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let read = tx.person(id).await?.ok_or("the person exists")?;
    assert_eq!(read.version, 2);
    assert_eq!(read.updated_at, changed.at);
    // The national identifiers and the creation stay; everything else is the new value.
    let expected = rppsplus_store::NewPerson {
        rpps: original.rpps.clone(),
        adeli: original.adeli.clone(),
        idnps: original.idnps.clone(),
        at: original.at,
        ..changed.clone()
    };
    assert_eq!(read.record, expected);
    assert_eq!(
        tx.person_id_by_email("nouvelle@example.org").await?,
        Some(id)
    );
    assert!(matches!(
        tx.update_person(id, 1, &original).await,
        Err(StoreError::StaleVersion)
    ));
    assert!(matches!(
        tx.update_person(rppsplus_store::PersonId(id.0 + 100), 1, &original)
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(tx.person(id).await?, Some(read));
    Ok(())
}

/// Self-registrations are stored pending, listed per establishment while pending, and decided
/// once: validated with the person and situation, or rejected with a reason.
pub async fn pending_registrations_are_decided_once(store: Arc<dyn Store>) -> Outcome {
    use rppsplus_store::{NewPendingRegistration, PendingDecision, PendingStatus};
    let mut tx = store.begin().await?;
    let ej = fixtures::legal_entity(1)?;
    tx.upsert_structure(&ej).await?;
    let eg = tx
        .upsert_structure(&fixtures::establishment(2, &ej.finess)?)
        .await?
        .id();
    let eg2 = tx
        .upsert_structure(&fixtures::establishment(3, &ej.finess)?)
        .await?
        .id();
    let manager = tx.insert_person(&fixtures::person(1)?).await?;
    let payload = serde_json::json!({"identity": {"birth_name": "Durand", "first_names": ["Zoé"]}});
    let new = NewPendingRegistration {
        structure: eg,
        payload: payload.clone(),
        at: at(9300)?,
    };
    let first = tx.insert_pending_registration(&new).await?;
    let second = tx.insert_pending_registration(&new).await?;
    let elsewhere = tx
        .insert_pending_registration(&NewPendingRegistration {
            structure: eg2,
            ..new.clone()
        })
        .await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let read = tx
        .pending_registration(first)
        .await?
        .ok_or("the registration exists")?;
    assert_eq!(read.record, new);
    assert_eq!(read.status, PendingStatus::Pending);
    assert_eq!(read.decision, None);
    let at_eg = tx.pending_registrations_at(eg).await?;
    assert_eq!(
        at_eg.iter().map(|r| r.id).collect::<Vec<_>>(),
        [first, second]
    );

    let rejected = PendingDecision {
        status: PendingStatus::Rejected,
        by: manager,
        at: at(9400)?,
        reason: Some("Inconnu de l'établissement".into()),
        person: None,
        situation: None,
    };
    tx.decide_pending_registration(first, &rejected).await?;
    assert!(matches!(
        tx.decide_pending_registration(first, &rejected).await,
        Err(StoreError::NotFound)
    ));
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let read = tx
        .pending_registration(first)
        .await?
        .ok_or("the registration exists")?;
    assert_eq!(read.status, PendingStatus::Rejected);
    assert_eq!(read.decision, Some(rejected));
    assert_eq!(
        tx.pending_registrations_at(eg)
            .await?
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [second]
    );
    assert_eq!(tx.pending_registrations_at(eg2).await?.len(), 1);
    assert_eq!(
        tx.pending_registration(rppsplus_store::PendingRegistrationId(elsewhere.0 + 100))
            .await?,
        None
    );
    Ok(())
}

/// The candidate lookup of search before create reads the birth-date index, not the whole
/// table (on PostgreSQL, with sequential scans disabled: on a small table the planner would
/// rightly prefer one).
pub async fn candidate_lookup_uses_the_birth_date_index(
    db: &rppsplus_test_support::db::TestDb,
) -> Outcome {
    use rppsplus_test_support::db::BackendStore;
    use sqlx::Connection;
    let plan: Vec<String> = match &db.backend_store {
        BackendStore::Sqlite(s) => {
            let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
                "EXPLAIN QUERY PLAN
                 SELECT id FROM persons WHERE birth_date = '1980-05-17' ORDER BY id LIMIT 500",
            )
            .fetch_all(s.pool())
            .await?;
            rows.into_iter().map(|r| r.3).collect()
        }
        BackendStore::Postgres(s) => {
            let mut conn = s.pool().acquire().await?;
            let mut tx = conn.begin().await?;
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await?;
            let rows: Vec<(String,)> = sqlx::query_as(
                "EXPLAIN SELECT id FROM persons WHERE birth_date = DATE '1980-05-17'
                 ORDER BY id LIMIT 500",
            )
            .fetch_all(&mut *tx)
            .await?;
            rows.into_iter().map(|r| r.0).collect()
        }
    };
    assert!(
        plan.iter().any(|l| l.contains("ix_persons_birth_date")),
        "{plan:?}"
    );
    Ok(())
}
