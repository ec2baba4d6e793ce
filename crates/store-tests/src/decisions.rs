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
    let idle_id = tx.insert_person(&idle).await?;
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
    assert_eq!(unknown.person, None);
    assert!(unknown.situations.is_empty());
    assert_eq!(unknown.registry_version, v2);

    let none = store.decision_facts(&idle.idnps).await?;
    assert_eq!(none.person, Some(idle_id));
    assert!(none.situations.is_empty());

    let facts = store.decision_facts(&person.idnps).await?;
    assert_eq!(facts.person, Some(person_id));
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
        found.map(|t| (t.id, t.record)),
        Some((token_id, token.clone()))
    );
    assert_eq!(with_token.situations, facts.situations);
    assert_eq!(with_token.person, Some(person_id));
    let (none, unknown) = store
        .decision_facts_for_token(&fixtures::person(99)?.idnps, &"cd".repeat(32))
        .await?;
    assert_eq!(none, None);
    assert_eq!((unknown.person, unknown.situations.len()), (None, 0));
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
    tx.close_situation(id, 1, date(2025, 3, 31), "départ", at(9000)?)
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
