//! Structures, legal representatives, habilitations and e-learning records.

use std::sync::Arc;

use jiff::civil::date;
use rppsplus_domain::Finess;
use rppsplus_store::{
    Elearning, Habilitation, HabilitationKind, LegalRepresentative, ManagementMode, NewElearning,
    NewHabilitation, NewLegalRepresentative, RepresentativeCard, Store, StoreError, Structure,
    StructureId, StructureRecord, Upsert,
};

use rppsplus_test_support::db::TestDb;

use crate::fixtures::{self, at};
use crate::{Failure, Outcome};

fn as_read(id: StructureId, r: &StructureRecord, created: &StructureRecord) -> Structure {
    Structure {
        id,
        record: r.clone(),
        management_mode: fixtures::DEFAULT_MODE,
        created_at: created.at,
        updated_at: r.at,
    }
}

/// Upserting tells Inserted, Unchanged (same data at another time: nothing written) and
/// Updated; structures read back as written, by FINESS and id, listed by FINESS, and
/// establishments are found from their legal entity.
pub async fn structures_upsert_and_read(store: Arc<dyn Store>) -> Outcome {
    let ej = fixtures::legal_entity(5)?;
    let eg = fixtures::establishment(3, &ej.finess)?;
    let other_ej = fixtures::legal_entity(1)?;
    // A published FINESS number whose key fails: imports keep it, reading it back must work.
    let mut odd = fixtures::legal_entity(9)?;
    odd.finess = Finess::read("970700186")?.finess;

    let mut tx = store.begin().await?;
    let Upsert::Inserted(ej_id) = tx.upsert_structure(&ej).await? else {
        return Err("a new FINESS number is inserted".into());
    };
    let Upsert::Inserted(eg_id) = tx.upsert_structure(&eg).await? else {
        return Err("a new FINESS number is inserted".into());
    };
    let other_id = tx.upsert_structure(&other_ej).await?.id();
    let odd_id = tx.upsert_structure(&odd).await?.id();
    tx.commit().await?;

    let mut tx = store.begin().await?;
    assert_eq!(tx.structure(ej_id).await?, Some(as_read(ej_id, &ej, &ej)));
    assert_eq!(tx.structure(eg_id).await?, Some(as_read(eg_id, &eg, &eg)));
    assert_eq!(
        tx.structure_by_finess(&eg.finess).await?,
        Some(as_read(eg_id, &eg, &eg))
    );
    assert_eq!(
        tx.structure_by_finess(&odd.finess).await?,
        Some(as_read(odd_id, &odd, &odd))
    );
    assert_eq!(tx.structure_by_finess(&fixtures::finess(77)?).await?, None);
    assert_eq!(tx.structure(StructureId(odd_id.0 + 100)).await?, None);

    // Same data, later: unchanged, and the stored row keeps its time.
    let mut again = eg.clone();
    again.at = at(8000)?;
    assert_eq!(tx.upsert_structure(&again).await?, Upsert::Unchanged(eg_id));
    assert_eq!(tx.structure(eg_id).await?, Some(as_read(eg_id, &eg, &eg)));

    // Changed data: updated, created_at kept.
    let mut renamed = eg.clone();
    renamed.name = "EHPAD Les Tilleuls (nouveau nom)".into();
    renamed.open = true;
    renamed.closed_on = None;
    renamed.siret = None;
    renamed.at = at(8001)?;
    assert_eq!(tx.upsert_structure(&renamed).await?, Upsert::Updated(eg_id));
    assert_eq!(
        tx.structure(eg_id).await?,
        Some(as_read(eg_id, &renamed, &eg))
    );
    tx.commit().await?;

    let mut tx = store.begin().await?;
    assert_eq!(
        tx.structure(eg_id).await?,
        Some(as_read(eg_id, &renamed, &eg))
    );
    let listed: Vec<StructureId> = tx.list_structures().await?.iter().map(|s| s.id).collect();
    assert_eq!(
        listed,
        vec![other_id, eg_id, ej_id, odd_id],
        "ordered by FINESS"
    );
    assert_eq!(
        tx.establishments_of(&ej.finess).await?,
        vec![as_read(eg_id, &renamed, &eg)]
    );
    assert!(tx.establishments_of(&other_ej.finess).await?.is_empty());
    assert_eq!(store.row_counts().await?.structures, 4);
    Ok(())
}

/// The management mode of a legal entity can be set; establishments and unknown ids are
/// `NotFound`.
pub async fn management_mode(store: Arc<dyn Store>) -> Outcome {
    let ej = fixtures::legal_entity(1)?;
    let mut tx = store.begin().await?;
    let ej_id = tx.upsert_structure(&ej).await?.id();
    let eg_id = tx
        .upsert_structure(&fixtures::establishment(2, &ej.finess)?)
        .await?
        .id();
    tx.set_management_mode(ej_id, ManagementMode::PerSite)
        .await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let read = tx.structure(ej_id).await?.ok_or("the EJ exists")?;
    assert_eq!(read.management_mode, ManagementMode::PerSite);
    assert_eq!(read.record, ej, "the record itself is untouched");
    for id in [eg_id, StructureId(eg_id.0 + 100)] {
        match tx
            .set_management_mode(id, ManagementMode::Centralised)
            .await
        {
            Err(StoreError::NotFound) => {}
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
    tx.set_management_mode(ej_id, ManagementMode::Centralised)
        .await?;
    let read = tx.structure(ej_id).await?.ok_or("the EJ exists")?;
    assert_eq!(read.management_mode, ManagementMode::Centralised);
    Ok(())
}

struct Setup {
    persons: Vec<rppsplus_store::PersonId>,
    ej: StructureId,
    eg: StructureId,
}

async fn setup(store: &dyn Store) -> Result<Setup, Failure> {
    let mut tx = store.begin().await?;
    let ej_record = fixtures::legal_entity(1)?;
    let ej = tx.upsert_structure(&ej_record).await?.id();
    let eg = tx
        .upsert_structure(&fixtures::establishment(2, &ej_record.finess)?)
        .await?
        .id();
    let mut persons = Vec::new();
    for n in 1..=3 {
        persons.push(tx.insert_person(&fixtures::person(n)?).await?);
    }
    tx.commit().await?;
    Ok(Setup { persons, ej, eg })
}

/// Designating a legal representative ends the previous designation, which stays in the
/// history; the current one is found by structure and by person.
pub async fn legal_representative_replacement(db: &TestDb) -> Outcome {
    let store = db.store.clone();
    let s = setup(store.as_ref()).await?;
    let (a, b) = (s.persons[0], s.persons[1]);
    let first = NewLegalRepresentative {
        structure: s.ej,
        person: a,
        card: RepresentativeCard::Cde,
        at: at(10)?,
    };
    let on_eg = NewLegalRepresentative {
        structure: s.eg,
        person: a,
        card: RepresentativeCard::Cps,
        at: at(11)?,
    };
    let mut tx = store.begin().await?;
    assert_eq!(tx.legal_representative(s.ej).await?, None);
    tx.set_legal_representative(&first).await?;
    tx.set_legal_representative(&on_eg).await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    assert_eq!(
        tx.legal_representative(s.ej).await?,
        Some(LegalRepresentative {
            record: first.clone()
        })
    );
    assert_eq!(
        tx.represented_by(a).await?,
        vec![
            LegalRepresentative {
                record: first.clone()
            },
            LegalRepresentative {
                record: on_eg.clone()
            }
        ]
    );

    let replacement = NewLegalRepresentative {
        structure: s.ej,
        person: b,
        card: RepresentativeCard::Cps,
        at: at(20)?,
    };
    tx.set_legal_representative(&replacement).await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    assert_eq!(
        tx.legal_representative(s.ej).await?,
        Some(LegalRepresentative {
            record: replacement.clone()
        })
    );
    assert_eq!(
        tx.represented_by(a).await?,
        vec![LegalRepresentative { record: on_eg }]
    );
    assert_eq!(
        tx.represented_by(b).await?,
        vec![LegalRepresentative {
            record: replacement
        }]
    );
    assert!(tx.represented_by(s.persons[2]).await?.is_empty());
    // Designating the same person again is a new designation, still one current.
    let again = NewLegalRepresentative {
        structure: s.ej,
        person: b,
        card: RepresentativeCard::Cde,
        at: at(30)?,
    };
    tx.set_legal_representative(&again).await?;
    assert_eq!(
        tx.legal_representative(s.ej).await?,
        Some(LegalRepresentative {
            record: again.clone()
        })
    );
    match tx
        .set_legal_representative(&NewLegalRepresentative {
            structure: StructureId(s.eg.0 + 100),
            ..again
        })
        .await
    {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    tx.commit().await?;
    // Four designations, two of them ended: none deleted.
    assert_eq!(
        crate::raw::count(db, "SELECT count(*) FROM legal_representatives").await?,
        4
    );
    assert_eq!(
        crate::raw::count(
            db,
            "SELECT count(*) FROM legal_representatives WHERE ended_at IS NOT NULL"
        )
        .await?,
        2
    );
    Ok(())
}

/// Habilitations in force are listed by person and by structure; revoking takes one out, and
/// revoking it again is `NotFound`.
pub async fn habilitations_grant_and_revoke(store: Arc<dyn Store>) -> Outcome {
    let s = setup(store.as_ref()).await?;
    let (legal, manager, mandatary) = (s.persons[0], s.persons[1], s.persons[2]);
    let grant = |person, structure, kind, n| -> Result<NewHabilitation, Failure> {
        Ok(NewHabilitation {
            person,
            structure,
            kind,
            granted_by: Some(legal),
            at: at(n)?,
        })
    };
    let on_ej = grant(manager, s.ej, HabilitationKind::Manager, 1)?;
    let on_eg = grant(manager, s.eg, HabilitationKind::Manager, 2)?;
    let mandate = NewHabilitation {
        granted_by: None,
        ..grant(mandatary, s.ej, HabilitationKind::Mandatary, 3)?
    };
    let mut tx = store.begin().await?;
    let on_ej_id = tx.grant_habilitation(&on_ej).await?;
    let on_eg_id = tx.grant_habilitation(&on_eg).await?;
    let mandate_id = tx.grant_habilitation(&mandate).await?;
    tx.commit().await?;

    let active = |id, record: &NewHabilitation| Habilitation {
        id,
        record: record.clone(),
        revoked_at: None,
        revoked_by: None,
    };
    let mut tx = store.begin().await?;
    assert_eq!(
        tx.active_habilitations_of(manager).await?,
        vec![active(on_ej_id, &on_ej), active(on_eg_id, &on_eg)]
    );
    assert_eq!(
        tx.active_habilitations_on(s.ej).await?,
        vec![active(on_ej_id, &on_ej), active(mandate_id, &mandate)]
    );
    assert!(tx.active_habilitations_of(legal).await?.is_empty());

    tx.revoke_habilitation(on_ej_id, Some(legal), at(50)?)
        .await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    assert_eq!(
        tx.habilitation(on_ej_id).await?,
        Some(Habilitation {
            revoked_at: Some(at(50)?),
            revoked_by: Some(legal),
            ..active(on_ej_id, &on_ej)
        }),
        "a revoked habilitation is still found by id"
    );
    assert_eq!(
        tx.habilitation(on_eg_id).await?,
        Some(active(on_eg_id, &on_eg))
    );
    assert_eq!(
        tx.habilitation(rppsplus_store::HabilitationId(mandate_id.0 + 100))
            .await?,
        None
    );
    drop(tx);

    let mut tx = store.begin().await?;
    assert_eq!(
        tx.active_habilitations_of(manager).await?,
        vec![active(on_eg_id, &on_eg)]
    );
    assert_eq!(
        tx.active_habilitations_on(s.ej).await?,
        vec![active(mandate_id, &mandate)]
    );
    for id in [on_ej_id, rppsplus_store::HabilitationId(mandate_id.0 + 100)] {
        match tx.revoke_habilitation(id, Some(legal), at(51)?).await {
            Err(StoreError::NotFound) => {}
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
    tx.commit().await?;

    // The registry operator revokes without being a person: revoked, by nobody's id.
    let mut tx = store.begin().await?;
    tx.revoke_habilitation(mandate_id, None, at(52)?).await?;
    tx.commit().await?;
    let mut tx = store.begin().await?;
    assert_eq!(
        tx.habilitation(mandate_id).await?,
        Some(Habilitation {
            revoked_at: Some(at(52)?),
            revoked_by: None,
            ..active(mandate_id, &mandate)
        })
    );
    assert!(tx.active_habilitations_on(s.ej).await?.is_empty());
    drop(tx);
    assert_eq!(
        store.row_counts().await?.habilitations,
        3,
        "revoked, not deleted"
    );
    Ok(())
}

/// E-learning completions read back as written, newest first.
pub async fn elearnings_newest_first(store: Arc<dyn Store>) -> Outcome {
    let s = setup(store.as_ref()).await?;
    let record = |person, completed_on, n: i64| -> Result<NewElearning, Failure> {
        Ok(NewElearning {
            person,
            completed_on,
            certificate_ref: format!("CERT-{n}"),
            at: at(n)?,
        })
    };
    let old = record(s.persons[0], date(2024, 1, 10), 1)?;
    let new = record(s.persons[0], date(2025, 2, 20), 2)?;
    let same_day_later = record(s.persons[0], date(2025, 2, 20), 3)?;
    let other = record(s.persons[1], date(2025, 5, 5), 4)?;
    let mut tx = store.begin().await?;
    for e in [&old, &new, &same_day_later, &other] {
        tx.record_elearning(e).await?;
    }
    tx.commit().await?;
    let mut tx = store.begin().await?;
    let wrap = |e: &NewElearning| Elearning { record: e.clone() };
    assert_eq!(
        tx.elearnings_of(s.persons[0]).await?,
        vec![wrap(&same_day_later), wrap(&new), wrap(&old)]
    );
    assert_eq!(tx.elearnings_of(s.persons[1]).await?, vec![wrap(&other)]);
    assert!(tx.elearnings_of(s.persons[2]).await?.is_empty());
    Ok(())
}

/// Search by FINESS prefix or by every word of the folded name, ordered by name, limited; and
/// the start-up step that fills keys of rows written before the key existed.
pub async fn structures_are_searched_by_finess_or_name(store: Arc<dyn Store>) -> Outcome {
    let ej = fixtures::legal_entity(1)?;
    let named = |n: u64, name: &str| -> Result<StructureRecord, Failure> {
        Ok(StructureRecord {
            name: name.to_owned(),
            ..fixtures::establishment(n, &ej.finess)?
        })
    };
    let mut tx = store.begin().await?;
    tx.upsert_structure(&ej).await?;
    tx.upsert_structure(&named(2, "EHPAD Les Tilleuls")?)
        .await?;
    tx.upsert_structure(&named(3, "SSIAD Les Tilleuls")?)
        .await?;
    tx.upsert_structure(&named(4, "Pharmacie de l'Hôtel-Dieu")?)
        .await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let names =
        |found: Vec<Structure>| found.into_iter().map(|s| s.record.name).collect::<Vec<_>>();
    let words = |ws: &[&str]| ws.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        names(tx.search_structures("", &words(&["tilleuls"]), 10).await?),
        ["EHPAD Les Tilleuls", "SSIAD Les Tilleuls"]
    );
    assert_eq!(
        names(
            tx.search_structures("", &words(&["tilleuls", "ssiad"]), 10)
                .await?
        ),
        ["SSIAD Les Tilleuls"]
    );
    // Accents, apostrophes and hyphens are folded in the stored key.
    assert_eq!(
        names(
            tx.search_structures("", &words(&["hotel", "dieu"]), 10)
                .await?
        ),
        ["Pharmacie de l'Hôtel-Dieu"]
    );
    assert_eq!(
        tx.search_structures("", &words(&["tilleuls"]), 1)
            .await?
            .len(),
        1
    );
    assert!(
        tx.search_structures("", &words(&["nowhere"]), 10)
            .await?
            .is_empty()
    );
    assert!(tx.search_structures("", &[], 10).await?.is_empty());
    let by_finess = tx
        .search_structures(fixtures::finess(4)?.as_str(), &[], 10)
        .await?;
    assert_eq!(names(by_finess), ["Pharmacie de l'Hôtel-Dieu"]);
    // Nothing to fill: every row was written with its key.
    assert_eq!(tx.fill_missing_name_keys().await?, 0);
    tx.commit().await?;
    Ok(())
}
