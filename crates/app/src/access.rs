//! Authorization of use cases: every use case that reads or changes a structure's non-public
//! data asks [`authorize`], which asks the domain's single decision function with the actor's
//! holdings as they are in the database now.

use rppsplus_domain::authz::{self, Action, Capacity, Holding, Principal, StructureNode};
use rppsplus_store::{HabilitationKind, PersonId, Structure, Tx};

use crate::{Actor, AppError, AppResult};

/// What a person holds, read from the database in the caller's transaction.
pub(crate) async fn holdings_of(tx: &mut Box<dyn Tx>, person: PersonId) -> AppResult<Vec<Holding>> {
    let mut holdings = Vec::new();
    for rl in tx.represented_by(person).await? {
        holdings.push(Holding {
            capacity: Capacity::LegalRepresentative,
            scope: rl.record.structure.0,
        });
    }
    for h in tx.active_habilitations_of(person).await? {
        holdings.push(Holding {
            capacity: match h.record.kind {
                HabilitationKind::Manager => Capacity::Manager,
                HabilitationKind::Mandatary => Capacity::Mandatary,
            },
            scope: h.record.structure.0,
        });
    }
    Ok(holdings)
}

/// The principal behind an actor.
pub(crate) async fn principal_of(tx: &mut Box<dyn Tx>, actor: &Actor) -> AppResult<Principal> {
    Ok(match actor {
        Actor::Operator | Actor::System => Principal::Operator,
        Actor::Person { id, .. } => Principal::Person(holdings_of(tx, *id).await?),
        // A consuming system holds nothing: it gets no right on any structure.
        Actor::Client { .. } => Principal::Person(Vec::new()),
    })
}

/// A structure as the rules see it.
pub(crate) async fn node_of(tx: &mut Box<dyn Tx>, s: &Structure) -> AppResult<StructureNode> {
    let legal_entity = match &s.record.ej_finess {
        Some(ej) => tx.structure_by_finess(ej).await?.map(|e| e.id.0),
        None => None,
    };
    Ok(StructureNode {
        id: s.id.0,
        legal_entity,
    })
}

/// Refuses with [`AppError::Forbidden`] unless the actor may do `action` on `target`.
pub(crate) async fn authorize(
    tx: &mut Box<dyn Tx>,
    actor: &Actor,
    action: Action,
    target: &Structure,
) -> AppResult<()> {
    let principal = principal_of(tx, actor).await?;
    let node = node_of(tx, target).await?;
    if authz::permits(&principal, action, node) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}
