//! Persons, exercises and situations.

use std::sync::Arc;

use jiff::civil::date;
use rppsplus_store::{
    Person, PersonId, Situation, SituationId, Store, StoreError, UniqueRule, audit,
};

use crate::fixtures::{self, at};
use crate::{Failure, Outcome};

/// What a person written as `p` with id `id` reads back as.
fn as_read(id: PersonId, p: &rppsplus_store::NewPerson) -> Person {
    Person {
        id,
        record: p.clone(),
        version: 1,
        updated_at: p.at,
    }
}

/// Persons read back equal to what was written, by id, IDNPS and RPPS, in and after the
/// transaction that wrote them; listing pages by id.
pub async fn persons_round_trip(store: Arc<dyn Store>) -> Outcome {
    let full = fixtures::person(1)?;
    let minimal = fixtures::minimal_person(2)?;
    let mut tx = store.begin().await?;
    let full_id = tx.insert_person(&full).await?;
    let minimal_id = tx.insert_person(&minimal).await?;
    assert_ne!(full_id, minimal_id);
    assert_eq!(tx.person(full_id).await?, Some(as_read(full_id, &full)));
    tx.commit().await?;

    let mut tx = store.begin().await?;
    assert_eq!(tx.person(full_id).await?, Some(as_read(full_id, &full)));
    assert_eq!(
        tx.person(minimal_id).await?,
        Some(as_read(minimal_id, &minimal))
    );
    assert_eq!(
        tx.person_by_idnps(&full.idnps).await?,
        Some(as_read(full_id, &full))
    );
    assert_eq!(
        tx.person_by_idnps(&minimal.idnps).await?,
        Some(as_read(minimal_id, &minimal))
    );
    let rpps = full.rpps.clone().ok_or("fixture has an RPPS number")?;
    assert_eq!(
        tx.person_by_rpps(&rpps).await?,
        Some(as_read(full_id, &full))
    );
    let unknown = fixtures::person(99)?;
    assert_eq!(tx.person_by_idnps(&unknown.idnps).await?, None);
    assert_eq!(
        tx.person_by_rpps(&unknown.rpps.ok_or("fixture has an RPPS number")?)
            .await?,
        None
    );
    assert_eq!(
        tx.person(PersonId(full_id.0 + minimal_id.0 + 100)).await?,
        None
    );

    for n in 3..=7 {
        tx.insert_person(&fixtures::person(n)?).await?;
    }
    let first = tx.list_persons(PersonId(0), 4).await?;
    assert_eq!(first.len(), 4);
    assert_eq!(first[0], as_read(full_id, &full));
    let last = first.last().map(|p| p.id).ok_or("a page of four")?;
    let second = tx.list_persons(last, 4).await?;
    assert_eq!(second.len(), 3);
    let ids: Vec<i64> = first.iter().chain(&second).map(|p| p.id.0).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ordered by id: {ids:?}"
    );
    assert!(
        tx.list_persons(PersonId(i64::MAX - 1), 10)
            .await?
            .is_empty()
    );
    tx.commit().await?;
    assert_eq!(store.row_counts().await?.persons, 7);
    Ok(())
}

/// Each uniqueness rule on persons is reported by name; when several collide, RPPS wins over
/// IDNPS over e-mail over mobile; and a duplicate leaves the transaction usable.
pub async fn person_uniqueness_rules(store: Arc<dyn Store>) -> Outcome {
    let first = fixtures::person(1)?;
    let mut tx = store.begin().await?;
    tx.insert_person(&first).await?;

    // A person that differs from `first` everywhere, then shares one value with it.
    let other = fixtures::person(2)?;
    let mut same_rpps = other.clone();
    same_rpps.rpps = first.rpps.clone();
    let mut same_idnps = other.clone();
    same_idnps.idnps = first.idnps.clone();
    let mut same_email = other.clone();
    same_email.email = first.email.clone();
    let mut same_mobile = other.clone();
    same_mobile.mobile = first.mobile.clone();
    let mut same_everything = first.clone();
    same_everything.at = at(77)?;
    let mut same_email_and_mobile = other.clone();
    same_email_and_mobile.email = first.email.clone();
    same_email_and_mobile.mobile = first.mobile.clone();

    for (p, rule) in [
        (&same_rpps, UniqueRule::PersonRpps),
        (&same_idnps, UniqueRule::PersonIdnps),
        (&same_email, UniqueRule::PersonEmail),
        (&same_mobile, UniqueRule::PersonMobile),
        (&same_everything, UniqueRule::PersonRpps),
        (&same_email_and_mobile, UniqueRule::PersonEmail),
    ] {
        match tx.insert_person(p).await {
            Err(StoreError::Duplicate(found)) => assert_eq!(found, rule),
            other => panic!("expected Duplicate({rule:?}), got {other:?}"),
        }
    }
    // Still usable: the next insert and the commit go through.
    let other_id = tx.insert_person(&other).await?;
    tx.commit().await?;
    assert_eq!(store.row_counts().await?.persons, 2);

    // Empty optional values never collide.
    let mut tx = store.begin().await?;
    tx.insert_person(&fixtures::minimal_person(3)?).await?;
    tx.insert_person(&fixtures::minimal_person(4)?).await?;
    assert!(tx.person(other_id).await?.is_some());
    tx.commit().await?;
    assert_eq!(store.row_counts().await?.persons, 4);
    Ok(())
}

/// Instants come back truncated to the microsecond, the same on every backend, and the audit
/// chain's truncation agrees.
pub async fn instants_keep_microseconds(store: Arc<dyn Store>) -> Outcome {
    let mut p = fixtures::person(1)?;
    p.at = jiff::Timestamp::new(1_764_000_000, 123_456_789)?;
    let mut tx = store.begin().await?;
    let id = tx.insert_person(&p).await?;
    tx.commit().await?;
    let mut tx = store.begin().await?;
    let back = tx.person(id).await?.ok_or("the person was stored")?;
    assert_eq!(
        back.record.at,
        jiff::Timestamp::new(1_764_000_000, 123_456_000)?
    );
    assert_eq!(back.record.at, audit::truncate(p.at));
    // Before the epoch too.
    let mut q = fixtures::person(2)?;
    q.at = jiff::Timestamp::new(-86_400 * 365, 999_999_999)?;
    let id = tx.insert_person(&q).await?;
    let back = tx.person(id).await?.ok_or("the person was stored")?;
    assert_eq!(back.record.at, audit::truncate(q.at));
    Ok(())
}

struct World {
    person: PersonId,
    other_person: PersonId,
    ej: rppsplus_store::StructureId,
    eg: rppsplus_store::StructureId,
    eg2: rppsplus_store::StructureId,
}

/// Two persons, a legal entity and two of its establishments.
async fn world(store: &dyn Store) -> Result<World, Failure> {
    let mut tx = store.begin().await?;
    let ej_record = fixtures::legal_entity(1)?;
    let ej = tx.upsert_structure(&ej_record).await?.id();
    let eg = tx
        .upsert_structure(&fixtures::establishment(2, &ej_record.finess)?)
        .await?
        .id();
    let eg2 = tx
        .upsert_structure(&fixtures::establishment(3, &ej_record.finess)?)
        .await?
        .id();
    let person = tx.insert_person(&fixtures::person(1)?).await?;
    let other_person = tx.insert_person(&fixtures::person(2)?).await?;
    tx.commit().await?;
    Ok(World {
        person,
        other_person,
        ej,
        eg,
        eg2,
    })
}

/// Situations read back equal to what was written, with their exercise, by id, by person and
/// by establishment, oldest first.
pub async fn situations_round_trip(store: Arc<dyn Store>) -> Outcome {
    let w = world(store.as_ref()).await?;
    let mut tx = store.begin().await?;
    let exercise = fixtures::exercise(w.person, 1)?;
    let exercise_id = tx.insert_exercise(&exercise).await?;
    let mut minimal_exercise = fixtures::exercise(w.other_person, 2)?;
    minimal_exercise.exercise_civility = None;
    let other_exercise_id = tx.insert_exercise(&minimal_exercise).await?;

    let first = fixtures::situation(exercise_id, w.person, w.eg, date(2020, 1, 6), 1)?;
    let mut second = fixtures::situation(exercise_id, w.person, w.eg2, date(2019, 3, 1), 2)?;
    second.end_date = Some(date(2026, 12, 31));
    second.created_by = Some(w.other_person);
    second.practice_mode = "L".into();
    let third = fixtures::situation(other_exercise_id, w.other_person, w.eg, date(2021, 9, 1), 3)?;
    let first_id = tx.insert_situation(&first).await?;
    let second_id = tx.insert_situation(&second).await?;
    let third_id = tx.insert_situation(&third).await?;
    tx.commit().await?;

    let expect = |id: SituationId,
                  s: &rppsplus_store::NewSituation,
                  e: &rppsplus_store::NewExercise| Situation {
        id,
        record: s.clone(),
        exercise: e.clone(),
        end_reason: None,
        closed_at: None,
        version: 1,
        updated_at: s.at,
    };
    let mut tx = store.begin().await?;
    assert_eq!(
        tx.situation(first_id).await?,
        Some(expect(first_id, &first, &exercise))
    );
    assert_eq!(
        tx.situation(second_id).await?,
        Some(expect(second_id, &second, &exercise))
    );
    assert_eq!(
        tx.situations_of_person(w.person).await?,
        vec![
            expect(first_id, &first, &exercise),
            expect(second_id, &second, &exercise)
        ]
    );
    assert_eq!(
        tx.situations_at(w.eg).await?,
        vec![
            expect(first_id, &first, &exercise),
            expect(third_id, &third, &minimal_exercise)
        ]
    );
    assert!(tx.situations_at(w.ej).await?.is_empty());
    assert_eq!(tx.situation(SituationId(third_id.0 + 100)).await?, None);

    // A situation whose person is not the exercise's person is refused.
    let mismatched = fixtures::situation(exercise_id, w.other_person, w.eg, date(2022, 1, 1), 4)?;
    assert!(tx.insert_situation(&mismatched).await.is_err());
    drop(tx);
    let counts = store.row_counts().await?;
    assert_eq!((counts.exercises, counts.situations), (2, 3));
    Ok(())
}

/// Closing a situation checks its version: the current one closes it and moves the version on;
/// a stale one is refused with `StaleVersion` and changes nothing; an unknown id is `NotFound`.
pub async fn closing_a_situation_checks_its_version(store: Arc<dyn Store>) -> Outcome {
    let w = world(store.as_ref()).await?;
    let mut tx = store.begin().await?;
    let exercise_id = tx
        .insert_exercise(&fixtures::exercise(w.person, 1)?)
        .await?;
    let id = tx
        .insert_situation(&fixtures::situation(
            exercise_id,
            w.person,
            w.eg,
            date(2020, 1, 6),
            1,
        )?)
        .await?;
    tx.commit().await?;

    let closed_at = at(9000)?;
    let mut tx = store.begin().await?;
    tx.close_situation(
        id,
        1,
        date(2025, 3, 31),
        "départ",
        Some(closed_at),
        closed_at,
    )
    .await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let closed = tx.situation(id).await?.ok_or("the situation exists")?;
    assert_eq!(closed.version, 2);
    assert_eq!(closed.record.end_date, Some(date(2025, 3, 31)));
    assert_eq!(closed.end_reason.as_deref(), Some("départ"));
    assert_eq!(closed.updated_at, closed_at);
    assert_eq!(closed.closed_at, Some(closed_at));

    match tx
        .close_situation(id, 1, date(2025, 4, 30), "autre", None, at(9001)?)
        .await
    {
        Err(StoreError::StaleVersion) => {}
        other => panic!("expected StaleVersion, got {other:?}"),
    }
    assert_eq!(
        tx.situation(id).await?,
        Some(closed.clone()),
        "nothing changed"
    );
    match tx
        .close_situation(
            SituationId(id.0 + 100),
            1,
            date(2025, 4, 30),
            "x",
            None,
            at(9002)?,
        )
        .await
    {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    tx.commit().await?;
    let mut tx = store.begin().await?;
    assert_eq!(tx.situation(id).await?, Some(closed));
    Ok(())
}

/// A transaction dropped without commit, or rolled back, leaves nothing behind: no row in any
/// table, no RPPS value taken.
pub async fn rollback_leaves_nothing(store: Arc<dyn Store>) -> Outcome {
    for explicit in [false, true] {
        let mut tx = store.begin().await?;
        assert_eq!(tx.next_rpps_value().await?, 0);
        let ej = fixtures::legal_entity(1)?;
        let ej_id = tx.upsert_structure(&ej).await?.id();
        let eg = tx
            .upsert_structure(&fixtures::establishment(2, &ej.finess)?)
            .await?
            .id();
        let person = tx.insert_person(&fixtures::person(1)?).await?;
        let exercise = tx.insert_exercise(&fixtures::exercise(person, 1)?).await?;
        tx.insert_situation(&fixtures::situation(
            exercise,
            person,
            eg,
            date(2020, 1, 1),
            1,
        )?)
        .await?;
        tx.grant_habilitation(&rppsplus_store::NewHabilitation {
            person,
            structure: ej_id,
            kind: rppsplus_store::HabilitationKind::Manager,
            granted_by: None,
            at: at(1)?,
        })
        .await?;
        crate::journal::append_one_of_each(tx.as_mut(), 1).await?;
        if explicit {
            tx.rollback().await?;
        } else {
            drop(tx);
        }
        assert_eq!(
            store.row_counts().await?,
            rppsplus_store::RowCounts::default()
        );
        assert!(store.audit_rows(0, 10).await?.is_empty());
        assert!(store.changes_after(0, 10).await?.is_empty());
    }
    // The value was given back, and the next transaction works.
    let mut tx = store.begin().await?;
    assert_eq!(tx.next_rpps_value().await?, 0);
    assert_eq!(tx.list_persons(PersonId(0), 10).await?, vec![]);
    tx.commit().await?;
    Ok(())
}

/// The situations of a page of persons come in one query, by person then oldest first, and
/// only for the persons of the page.
pub async fn situations_of_a_page_of_persons(store: Arc<dyn Store>) -> Outcome {
    let w = world(store.as_ref()).await?;
    let (low, high) = if w.person < w.other_person {
        (w.person, w.other_person)
    } else {
        (w.other_person, w.person)
    };
    let mut tx = store.begin().await?;
    let high_exercise = tx.insert_exercise(&fixtures::exercise(high, 1)?).await?;
    let low_exercise = tx.insert_exercise(&fixtures::exercise(low, 2)?).await?;
    // Inserted out of person order: the result is still by person.
    tx.insert_situation(&fixtures::situation(
        high_exercise,
        high,
        w.eg,
        date(2020, 1, 6),
        1,
    )?)
    .await?;
    tx.insert_situation(&fixtures::situation(
        low_exercise,
        low,
        w.eg2,
        date(2021, 1, 6),
        2,
    )?)
    .await?;
    tx.insert_situation(&fixtures::situation(
        low_exercise,
        low,
        w.eg,
        date(2019, 1, 6),
        3,
    )?)
    .await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let mut expected = tx.situations_of_person(low).await?;
    assert_eq!(expected.len(), 2);
    let of_high = tx.situations_of_person(high).await?;
    assert_eq!(
        tx.situations_of_persons(PersonId(low.0 - 1), low).await?,
        expected
    );
    expected.extend(of_high.clone());
    assert_eq!(tx.situations_of_persons(PersonId(0), high).await?, expected);
    assert_eq!(tx.situations_of_persons(low, high).await?, of_high);
    assert!(
        tx.situations_of_persons(high, PersonId(high.0 + 1000))
            .await?
            .is_empty()
    );
    Ok(())
}
