//! "Mes habilitations": the legal representative (or a mandataire) grants and revokes the
//! Gestionnaire RPPS+ right; managers see the structures they act for.

use jiff::Timestamp;
use jiff::civil::Date;
use rppsplus_domain::authz::{Action, Capacity};
use rppsplus_domain::reference::Setting;
use rppsplus_domain::{Finess, Idnps};
use rppsplus_store::{
    HabilitationId, HabilitationKind, ManagementMode, Person, RepresentativeCard, Structure,
    StructureKind, Tx,
};
use serde_json::json;

use crate::access::{authorize, holdings_of, principal_of};
use crate::persons::record_elearning_in;
use crate::structures::{grant_habilitation_in, set_legal_representative_in};
use crate::{Actor, App, AppError, AppResult, FieldError, journal};

/// A structure the actor acts for, with the capacity they hold there.
#[derive(Debug, Clone)]
pub struct ScopeView {
    /// The structure the capacity is held on (an EJ or an EG).
    pub structure: Structure,
    /// What the actor holds there.
    pub capacity: Capacity,
    /// The establishments covered (the EG itself, or every EG of the EJ).
    pub establishments: Vec<Structure>,
}

/// A habilitation as the legal representative sees it.
#[derive(Debug, Clone)]
pub struct HabilitationView {
    /// Its id.
    pub id: HabilitationId,
    /// Manager or mandataire.
    pub kind: HabilitationKind,
    /// The person's IDNPS.
    pub person_idnps: String,
    /// The person's first name and birth name.
    pub person_name: String,
    /// The structure it is held on.
    pub scope: Structure,
    /// When granted.
    pub granted_at: Timestamp,
    /// Latest e-learning completion of the person.
    pub elearning_on: Option<Date>,
}

/// Whose habilitations the operator asks for.
#[derive(Debug, Clone, Copy)]
pub enum HabilitationsOf<'a> {
    /// A person's, by IDNPS.
    Person(&'a str),
    /// Those held on a structure, by FINESS.
    Structure(&'a str),
}

/// A habilitation as shown, with its holder and their latest e-learning; `None` when the holder
/// is missing (the schema forbids it).
async fn view_of(
    tx: &mut Box<dyn Tx>,
    h: rppsplus_store::Habilitation,
    scope: Structure,
) -> AppResult<Option<HabilitationView>> {
    let Some(p) = tx.person(h.record.person).await? else {
        return Ok(None);
    };
    let elearning_on = tx
        .elearnings_of(p.id)
        .await?
        .first()
        .map(|e| e.record.completed_on);
    Ok(Some(HabilitationView {
        id: h.id,
        kind: h.record.kind,
        person_idnps: p.record.idnps.to_string(),
        person_name: display_name(&p),
        scope,
        granted_at: h.record.at,
        elearning_on,
    }))
}

/// A request to grant a habilitation, as typed in a form or sent to the API.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    /// IDNPS of the person to habilitate.
    pub person: String,
    /// FINESS number of the scope (EJ when centralised, EG when per site).
    pub scope: String,
    /// Which right.
    pub kind: HabilitationKind,
}

fn display_name(p: &Person) -> String {
    let first = p.record.first_names.first().cloned().unwrap_or_default();
    let last = p
        .record
        .usage_name
        .clone()
        .unwrap_or_else(|| p.record.birth_name.clone());
    format!("{first} {last}")
}

/// The setting that decides habilitation rules on a scope: the EG's own, or ESMS when any
/// establishment of the EJ is one (the strictest rule applies).
async fn scope_setting(tx: &mut Box<dyn Tx>, scope: &Structure) -> AppResult<Option<Setting>> {
    let own = scope.record.setting.as_deref().and_then(Setting::parse);
    if scope.record.kind == StructureKind::Eg {
        return Ok(own);
    }
    let settings: Vec<Setting> = tx
        .establishments_of(&scope.record.finess)
        .await?
        .iter()
        .filter_map(|e| e.record.setting.as_deref().and_then(Setting::parse))
        .collect();
    Ok(if settings.contains(&Setting::Esms) {
        Some(Setting::Esms)
    } else {
        settings.first().copied().or(own)
    })
}

fn parse_idnps(raw: &str, field: &str) -> Result<Idnps, FieldError> {
    Idnps::parse(raw).map_err(|_| {
        FieldError::new(
            field,
            "invalid_idnps",
            "Saisissez l'IDNPS de la personne : 8 suivi de son numéro RPPS (12 chiffres), ou 0 suivi de son numéro ADELI.",
        )
    })
}

fn parse_finess(raw: &str, field: &str) -> Result<Finess, FieldError> {
    Finess::parse(raw).map_err(|_| {
        FieldError::new(
            field,
            "invalid_finess",
            "Saisissez un numéro FINESS valide : 9 caractères, par exemple 690001029.",
        )
    })
}

impl App {
    /// The structures the actor acts for ("Mes structures").
    pub async fn my_structures(&self, actor: &Actor) -> AppResult<Vec<ScopeView>> {
        let Some(person) = actor.person_id() else {
            return Ok(Vec::new());
        };
        let mut tx = self.store.begin().await?;
        let mut out = Vec::new();
        for h in holdings_of(&mut tx, person).await? {
            let Some(structure) = tx.structure(rppsplus_store::StructureId(h.scope)).await? else {
                continue;
            };
            let establishments = match structure.record.kind {
                StructureKind::Eg => vec![structure.clone()],
                StructureKind::Ej => tx.establishments_of(&structure.record.finess).await?,
            };
            out.push(ScopeView {
                structure,
                capacity: h.capacity,
                establishments,
            });
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// Whether the actor holds any capacity at all (the sign-in page uses it to explain).
    pub async fn holds_anything(&self, actor: &Actor) -> AppResult<bool> {
        let mut tx = self.store.begin().await?;
        let principal = principal_of(&mut tx, actor).await?;
        tx.rollback().await?;
        Ok(match principal {
            rppsplus_domain::authz::Principal::Operator => true,
            rppsplus_domain::authz::Principal::Person(h) => !h.is_empty(),
        })
    }

    /// Every habilitation the actor may manage (as RL or mandataire), on their scopes and the
    /// establishments those cover.
    pub async fn manageable_habilitations(
        &self,
        actor: &Actor,
    ) -> AppResult<Vec<HabilitationView>> {
        let Some(person) = actor.person_id() else {
            return Ok(Vec::new());
        };
        let mut tx = self.store.begin().await?;
        let mut structures = Vec::new();
        for h in holdings_of(&mut tx, person).await? {
            if !matches!(
                h.capacity,
                Capacity::LegalRepresentative | Capacity::Mandatary
            ) {
                continue;
            }
            if let Some(s) = tx.structure(rppsplus_store::StructureId(h.scope)).await? {
                if s.record.kind == StructureKind::Ej {
                    structures.extend(tx.establishments_of(&s.record.finess).await?);
                }
                structures.push(s);
            }
        }
        structures.sort_by_key(|s| s.id);
        structures.dedup_by_key(|s| s.id);
        let mut out = Vec::new();
        for s in structures {
            for h in tx.active_habilitations_on(s.id).await? {
                if let Some(v) = view_of(&mut tx, h, s.clone()).await? {
                    out.push(v);
                }
            }
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// For the registry operator: the habilitations in force of a person (by IDNPS), or held
    /// on a structure (by FINESS; an EJ's own, not its EGs'), to find the one to revoke.
    pub async fn habilitations_in_force(
        &self,
        actor: &Actor,
        of: HabilitationsOf<'_>,
    ) -> AppResult<Vec<HabilitationView>> {
        if *actor != Actor::Operator {
            return Err(AppError::Forbidden);
        }
        let mut tx = self.store.begin().await?;
        let held = match of {
            HabilitationsOf::Person(raw) => {
                let idnps = parse_idnps(raw, "person").map_err(|e| AppError::Invalid(vec![e]))?;
                match tx.person_by_idnps(&idnps).await? {
                    Some(p) => tx.active_habilitations_of(p.id).await?,
                    None => Vec::new(),
                }
            }
            HabilitationsOf::Structure(raw) => {
                let finess =
                    parse_finess(raw, "structure").map_err(|e| AppError::Invalid(vec![e]))?;
                match tx.structure_by_finess(&finess).await? {
                    Some(s) => tx.active_habilitations_on(s.id).await?,
                    None => Vec::new(),
                }
            }
        };
        let mut out = Vec::new();
        for h in held {
            let Some(scope) = tx.structure(h.record.structure).await? else {
                continue;
            };
            if let Some(v) = view_of(&mut tx, h, scope).await? {
                out.push(v);
            }
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// Grants a habilitation, checking the actor's right, the management mode and the
    /// e-learning prerequisite.
    pub async fn grant(&self, actor: &Actor, req: &GrantRequest) -> AppResult<HabilitationId> {
        let mut problems = Vec::new();
        let idnps = parse_idnps(&req.person, "person")
            .map_err(|e| problems.push(e))
            .ok();
        let finess = parse_finess(&req.scope, "scope")
            .map_err(|e| problems.push(e))
            .ok();
        let (Some(idnps), Some(finess)) = (idnps, finess) else {
            return Err(AppError::Invalid(problems));
        };
        let today = self.today();
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let Some(scope) = tx.structure_by_finess(&finess).await? else {
            return Err(AppError::invalid(
                "scope",
                "unknown_structure",
                "Aucune structure n'a ce numéro FINESS dans le registre.",
            ));
        };
        let action = match req.kind {
            HabilitationKind::Manager => Action::ManageHabilitations,
            HabilitationKind::Mandatary => Action::DesignateMandatary,
        };
        authorize(&mut tx, actor, action, &scope).await?;
        let Some(person) = tx.person_by_idnps(&idnps).await? else {
            return Err(AppError::invalid(
                "person",
                "unknown_person",
                "Aucune personne n'a cet IDNPS dans le registre : enregistrez-la d'abord (un gestionnaire peut s'auto-enregistrer).",
            ));
        };
        if req.kind == HabilitationKind::Manager {
            check_management_mode(&mut tx, &scope).await?;
            if let Some(setting) = scope_setting(&mut tx, &scope).await? {
                let policy = rppsplus_domain::reference::tables()
                    .map_err(|e| {
                        AppError::Store(rppsplus_store::StoreError::Corrupt(e.to_string()))
                    })?
                    .habilitation_policy
                    .clone();
                if policy.elearning_required(setting, today)
                    && tx.elearnings_of(person.id).await?.is_empty()
                {
                    let since = policy
                        .elearning_required_from(setting)
                        .map(rppsplus_domain::validation::format_date_fr)
                        .unwrap_or_default();
                    return Err(AppError::Invalid(vec![FieldError::new(
                        "person",
                        "elearning_missing",
                        format!(
                            "Cette personne n'a pas suivi l'e-learning « Gestionnaire RPPS+ » de l'ANS, obligatoire depuis le {since} pour les établissements sociaux et médico-sociaux. Enregistrez d'abord son attestation (date de suivi et référence du certificat), puis accordez l'habilitation."
                        ),
                    )]));
                }
            }
        }
        if tx
            .represented_by(person.id)
            .await?
            .iter()
            .any(|r| r.record.structure == scope.id)
        {
            return Err(AppError::Conflict {
                code: "already_legal_representative",
                message: "Cette personne est le représentant légal de la structure : elle dispose déjà de ce droit."
                    .to_owned(),
            });
        }
        if tx
            .active_habilitations_on(scope.id)
            .await?
            .iter()
            .any(|h| h.record.person == person.id && h.record.kind == req.kind)
        {
            return Err(AppError::Conflict {
                code: "already_granted",
                message: "Cette personne a déjà cette habilitation sur cette structure.".to_owned(),
            });
        }
        let id = grant_habilitation_in(&mut tx, actor, at, person.id, scope.id, req.kind).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Revokes a habilitation; the holder loses the right at their next request.
    pub async fn revoke(&self, actor: &Actor, id: HabilitationId) -> AppResult<()> {
        let at = self.now();
        let mut tx = self.store.begin().await?;
        let h = tx.habilitation(id).await?.ok_or(AppError::NotFound)?;
        if h.revoked_at.is_some() {
            return Err(AppError::NotFound);
        }
        let scope = tx
            .structure(h.record.structure)
            .await?
            .ok_or(AppError::NotFound)?;
        let action = match h.record.kind {
            HabilitationKind::Manager => Action::ManageHabilitations,
            HabilitationKind::Mandatary => Action::DesignateMandatary,
        };
        authorize(&mut tx, actor, action, &scope).await?;
        // The legal representative, a mandataire, or the registry operator (who keeps the
        // right to cut off a manager, e.g. one whose identity proved false); the audit log
        // names who.
        tx.revoke_habilitation(id, actor.person_id(), at).await?;
        journal(
            &mut tx,
            actor,
            at,
            "habilitation.revoke",
            ("habilitation", id.0),
            json!({ "person": h.record.person, "structure": scope.id, "kind": h.record.kind.as_str() }),
            "updated",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a person's e-learning completion: by the person, by a legal representative or
    /// mandataire (who vouches for a future manager), or by the operator.
    pub async fn record_elearning_for(
        &self,
        actor: &Actor,
        person: &str,
        completed_on: &str,
        certificate_ref: &str,
    ) -> AppResult<()> {
        let today = self.today();
        let mut problems = Vec::new();
        let idnps = parse_idnps(person, "person")
            .map_err(|e| problems.push(e))
            .ok();
        let date = match rppsplus_domain::validation::parse_date_input(completed_on) {
            Some(d) if d <= today => Some(d),
            Some(_) => {
                problems.push(FieldError::new(
                    "completed_on",
                    "in_future",
                    "La date de suivi de l'e-learning ne peut pas être dans le futur.",
                ));
                None
            }
            None => {
                problems.push(FieldError::new(
                    "completed_on",
                    "invalid_date",
                    "Saisissez la date de suivi au format JJ/MM/AAAA.",
                ));
                None
            }
        };
        let certificate = certificate_ref.trim();
        if certificate.is_empty() || certificate.chars().count() > 100 {
            problems.push(FieldError::new(
                "certificate_ref",
                "required",
                "Saisissez la référence du certificat de l'e-learning (100 caractères au plus).",
            ));
        }
        let (Some(idnps), Some(date), true) = (idnps, date, problems.is_empty()) else {
            return Err(AppError::Invalid(problems));
        };
        let mut tx = self.store.begin().await?;
        // The right is checked before the person is looked up: an actor without it learns
        // nothing about who is registered.
        let allowed = match actor {
            Actor::Operator | Actor::System => true,
            Actor::Client { .. } => false,
            Actor::Person { idnps: own, .. } if *own == idnps => true,
            Actor::Person { id, .. } => holdings_of(&mut tx, *id).await?.iter().any(|h| {
                matches!(
                    h.capacity,
                    Capacity::LegalRepresentative | Capacity::Mandatary
                )
            }),
        };
        if !allowed {
            return Err(AppError::Forbidden);
        }
        let Some(target) = tx.person_by_idnps(&idnps).await? else {
            return Err(AppError::invalid(
                "person",
                "unknown_person",
                "Aucune personne n'a cet IDNPS dans le registre.",
            ));
        };
        record_elearning_in(&mut tx, actor, self.now(), target.id, date, certificate).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Designates the legal representative of a structure (an operator's act).
    pub async fn designate_legal_representative(
        &self,
        actor: &Actor,
        structure: &str,
        person: &str,
        card: RepresentativeCard,
    ) -> AppResult<()> {
        let mut problems = Vec::new();
        let finess = parse_finess(structure, "structure")
            .map_err(|e| problems.push(e))
            .ok();
        let idnps = parse_idnps(person, "person")
            .map_err(|e| problems.push(e))
            .ok();
        let (Some(finess), Some(idnps)) = (finess, idnps) else {
            return Err(AppError::Invalid(problems));
        };
        let mut tx = self.store.begin().await?;
        let Some(s) = tx.structure_by_finess(&finess).await? else {
            return Err(AppError::invalid(
                "structure",
                "unknown_structure",
                "Aucune structure n'a ce numéro FINESS dans le registre.",
            ));
        };
        authorize(&mut tx, actor, Action::SetLegalRepresentative, &s).await?;
        let Some(p) = tx.person_by_idnps(&idnps).await? else {
            return Err(AppError::invalid(
                "person",
                "unknown_person",
                "Aucune personne n'a cet IDNPS dans le registre.",
            ));
        };
        set_legal_representative_in(&mut tx, actor, self.now(), s.id, p.id, card).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes how a legal entity manages its professionals (RL or operator).
    pub async fn change_management_mode(
        &self,
        actor: &Actor,
        ej: &str,
        mode: ManagementMode,
    ) -> AppResult<()> {
        let finess = parse_finess(ej, "structure").map_err(|e| AppError::Invalid(vec![e]))?;
        let mut tx = self.store.begin().await?;
        let s = tx
            .structure_by_finess(&finess)
            .await?
            .ok_or(AppError::NotFound)?;
        authorize(&mut tx, actor, Action::SetManagementMode, &s).await?;
        crate::structures::set_management_mode_in(&mut tx, actor, self.now(), &finess, mode)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A manager's habilitation goes on the EJ when management is centralised, on an EG when it is
/// per site.
async fn check_management_mode(tx: &mut Box<dyn Tx>, scope: &Structure) -> AppResult<()> {
    match scope.record.kind {
        StructureKind::Ej if scope.management_mode == ManagementMode::PerSite => {
            Err(AppError::invalid(
                "scope",
                "per_site_management",
                "Cette entité juridique gère ses habilitations par établissement : habilitez le gestionnaire sur un établissement (numéro FINESS de l'EG).",
            ))
        }
        StructureKind::Eg => {
            let ej = match &scope.record.ej_finess {
                Some(ej) => tx.structure_by_finess(ej).await?,
                None => None,
            };
            match ej {
                Some(ej) if ej.management_mode == ManagementMode::Centralised => {
                    Err(AppError::invalid(
                        "scope",
                        "centralised_management",
                        "La gestion des habilitations de cet établissement est centralisée : habilitez le gestionnaire sur l'entité juridique.",
                    ))
                }
                _ => Ok(()),
            }
        }
        StructureKind::Ej => Ok(()),
    }
}
