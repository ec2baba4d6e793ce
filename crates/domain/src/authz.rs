//! Who may do what on which structure: the one decision function every page, API endpoint and
//! command goes through.
//!
//! A person's rights come from what they hold on a structure (a *scope*): being its legal
//! representative (RL), or holding a habilitation there (Gestionnaire RPPS+, mandataire). A scope
//! on a legal entity (EJ) covers the EJ and every one of its establishments (EG); a scope on an
//! EG covers that EG only. Nothing else grants anything: rights are recomputed from the database
//! at every request, so a revoked habilitation stops working at the next one.

/// A structure as the rules see it: its key and, for an establishment, its legal entity's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructureNode {
    /// The structure's key.
    pub id: i64,
    /// For an establishment (EG), the key of its legal entity (EJ).
    pub legal_entity: Option<i64>,
}

/// What a person holds on a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    /// Représentant légal: every right on the scope, de facto.
    LegalRepresentative,
    /// Gestionnaire RPPS+: registers and manages professionals.
    Manager,
    /// Mandataire: grants and revokes managers' habilitations in the RL's place.
    Mandatary,
}

/// One capacity on one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    /// What is held.
    pub capacity: Capacity,
    /// On which structure.
    pub scope: i64,
}

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The registry operator (command line, operator tokens): every right.
    Operator,
    /// A person, with what they hold.
    Person(Vec<Holding>),
}

/// What is asked, on a target structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the structure's professionals, managers and non-public details.
    ViewStaff,
    /// Register professionals, change and close their situations.
    ManageProfessionals,
    /// Grant or revoke managers' habilitations, record e-learning completions.
    ManageHabilitations,
    /// Designate or remove a mandataire.
    DesignateMandatary,
    /// Choose how the legal entity manages its professionals (centralised or per site).
    SetManagementMode,
    /// Designate the legal representative (an operator's act, after the paper procedure).
    SetLegalRepresentative,
}

/// Whether a scope covers a structure.
pub fn covers(scope: i64, target: StructureNode) -> bool {
    scope == target.id || target.legal_entity == Some(scope)
}

/// The capacities that allow an action.
fn allowed(action: Action) -> &'static [Capacity] {
    use Capacity::*;
    match action {
        Action::ViewStaff => &[LegalRepresentative, Manager, Mandatary],
        Action::ManageProfessionals => &[LegalRepresentative, Manager],
        Action::ManageHabilitations => &[LegalRepresentative, Mandatary],
        Action::DesignateMandatary | Action::SetManagementMode => &[LegalRepresentative],
        Action::SetLegalRepresentative => &[],
    }
}

/// The decision: may `principal` do `action` on `target`?
pub fn permits(principal: &Principal, action: Action, target: StructureNode) -> bool {
    match principal {
        Principal::Operator => true,
        Principal::Person(holdings) => holdings
            .iter()
            .any(|h| covers(h.scope, target) && allowed(action).contains(&h.capacity)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EJ: i64 = 1;
    const EG_A: i64 = 2;
    const EG_B: i64 = 3;
    const OTHER_EJ: i64 = 10;
    const OTHER_EG: i64 = 11;

    fn node(id: i64) -> StructureNode {
        match id {
            EG_A | EG_B => StructureNode {
                id,
                legal_entity: Some(EJ),
            },
            OTHER_EG => StructureNode {
                id,
                legal_entity: Some(OTHER_EJ),
            },
            _ => StructureNode {
                id,
                legal_entity: None,
            },
        }
    }

    fn person(capacity: Capacity, scope: i64) -> Principal {
        Principal::Person(vec![Holding { capacity, scope }])
    }

    const ALL: [Action; 6] = [
        Action::ViewStaff,
        Action::ManageProfessionals,
        Action::ManageHabilitations,
        Action::DesignateMandatary,
        Action::SetManagementMode,
        Action::SetLegalRepresentative,
    ];

    #[test]
    fn a_site_manager_acts_on_their_site_only() {
        let m = person(Capacity::Manager, EG_A);
        assert!(permits(&m, Action::ManageProfessionals, node(EG_A)));
        assert!(permits(&m, Action::ViewStaff, node(EG_A)));
        for target in [EJ, EG_B, OTHER_EJ, OTHER_EG] {
            for action in ALL {
                assert!(!permits(&m, action, node(target)), "{action:?} on {target}");
            }
        }
        assert!(!permits(&m, Action::ManageHabilitations, node(EG_A)));
    }

    #[test]
    fn a_centralised_manager_covers_every_site_of_their_legal_entity() {
        let m = person(Capacity::Manager, EJ);
        for target in [EJ, EG_A, EG_B] {
            assert!(permits(&m, Action::ManageProfessionals, node(target)));
        }
        for target in [OTHER_EJ, OTHER_EG] {
            assert!(!permits(&m, Action::ViewStaff, node(target)));
        }
    }

    #[test]
    fn the_legal_representative_holds_the_manager_right_de_facto() {
        let rl = person(Capacity::LegalRepresentative, EJ);
        for action in ALL {
            let expected = action != Action::SetLegalRepresentative;
            assert_eq!(permits(&rl, action, node(EG_B)), expected, "{action:?}");
        }
        assert!(!permits(&rl, Action::ViewStaff, node(OTHER_EG)));
    }

    #[test]
    fn a_mandatary_grants_but_does_not_register() {
        let m = person(Capacity::Mandatary, EJ);
        assert!(permits(&m, Action::ManageHabilitations, node(EG_A)));
        assert!(!permits(&m, Action::ManageProfessionals, node(EG_A)));
        assert!(!permits(&m, Action::DesignateMandatary, node(EJ)));
    }

    #[test]
    fn the_operator_may_do_everything_and_nobody_else_designates_representatives() {
        for action in ALL {
            assert!(permits(&Principal::Operator, action, node(OTHER_EG)));
        }
        assert!(!permits(
            &Principal::Person(vec![]),
            Action::ViewStaff,
            node(EJ)
        ));
    }

    proptest! {
        /// Whatever a person holds, they never act on a structure outside their scopes.
        #[test]
        fn nothing_leaks_outside_the_scopes(
            holdings in proptest::collection::vec((0u8..3, prop_oneof![Just(EJ), Just(EG_A), Just(EG_B)]), 0..5),
            action in 0usize..6,
        ) {
            let holdings = holdings
                .into_iter()
                .map(|(c, scope)| Holding {
                    capacity: [Capacity::LegalRepresentative, Capacity::Manager, Capacity::Mandatary][usize::from(c)],
                    scope,
                })
                .collect();
            let p = Principal::Person(holdings);
            prop_assert!(!permits(&p, ALL[action], node(OTHER_EJ)));
            prop_assert!(!permits(&p, ALL[action], node(OTHER_EG)));
            prop_assert!(!permits(&p, Action::SetLegalRepresentative, node(EJ)));
        }
    }
}
