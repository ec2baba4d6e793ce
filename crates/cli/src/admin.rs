//! Operator commands: `rppsplus token create …` (API tokens), `rppsplus rl set …` (legal
//! representatives) and `rppsplus habilitation list|revoke …`.

use std::process::ExitCode;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use rppsplus_app::habilitations::HabilitationsOf;
use rppsplus_app::tokens::IssuedToken;
use rppsplus_app::{Actor, AppError};
use rppsplus_store::{HabilitationId, RepresentativeCard, TokenHolder};

use crate::{GlobalArgs, open_app};

/// `rppsplus token …`.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create an API token and print it on standard output, alone on its line: it is shown this
    /// once (only its hash is stored). Give it to the software in `Authorization: Bearer …`.
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("holder").required(true).multiple(false)))]
pub(crate) struct TokenCreateArgs {
    /// A token acting for this person (IDNPS), with their own habilitations: for their scripts
    /// and HR tools, and for the demo.
    #[arg(long, value_name = "IDNPS", group = "holder")]
    person: Option<String>,

    /// A token for a consuming system (e.g. one asking for access decisions): it acts as no
    /// person, holds no habilitation and reads public data only.
    #[arg(long, value_name = "NAME", group = "holder")]
    system: Option<String>,

    /// An operator token: every right, like these commands (e.g. `PUT
    /// /api/v1/structures/{finess}/legal-representative`). Keep it to the operator's own
    /// tooling.
    #[arg(long, value_name = "NAME", group = "holder")]
    operator: Option<String>,

    /// What the token is for (shown in the token list).
    #[arg(long, value_name = "TEXT")]
    label: Option<String>,
}

/// `rppsplus rl …`.
#[derive(Debug, Subcommand)]
pub(crate) enum RlCommand {
    /// Designate the legal representative of a structure, after the paper procedure; replaces
    /// the current one.
    Set(RlSetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RlSetArgs {
    /// FINESS number of the structure (EJ or EG).
    #[arg(long, value_name = "FINESS")]
    structure: String,

    /// IDNPS of the legal representative.
    #[arg(long, value_name = "IDNPS")]
    person: String,

    /// The card they sign in with.
    #[arg(long, value_enum)]
    card: Card,
}

/// `rppsplus habilitation …`.
#[derive(Debug, Subcommand)]
pub(crate) enum HabilitationCommand {
    /// List the habilitations in force of a person or held on a structure, one per line:
    /// id, kind, holder's IDNPS, structure's FINESS, grant date (tab-separated).
    List(HabilitationListArgs),
    /// Revoke a habilitation (by the id `list` prints): its holder loses the right at their
    /// next request. The audit log records the operator as the revoker.
    Revoke {
        /// The habilitation's id.
        id: i64,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("of").required(true).multiple(false)))]
pub(crate) struct HabilitationListArgs {
    /// The holder's IDNPS.
    #[arg(long, value_name = "IDNPS", group = "of")]
    person: Option<String>,

    /// The structure's FINESS (its own habilitations; an EJ's EGs are listed by their FINESS).
    #[arg(long, value_name = "FINESS", group = "of")]
    structure: Option<String>,
}

/// A legal representative's card.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Card {
    /// Carte de directeur d'établissement.
    #[value(name = "CDE")]
    Cde,
    /// Carte de professionnel de santé.
    #[value(name = "CPS")]
    Cps,
}

/// Explains a use-case refusal on standard error; the exit code is 2 for invalid input, 1
/// otherwise.
pub(crate) fn refused(e: AppError) -> anyhow::Result<ExitCode> {
    match e {
        AppError::Invalid(fields) => {
            for f in fields {
                eprintln!("rppsplus: {} ({}): {}", f.field, f.code, f.message);
            }
            Ok(ExitCode::from(2))
        }
        AppError::Store(inner) => Err(anyhow::Error::new(inner).context("storage failure")),
        other => {
            eprintln!("rppsplus: {} ({})", other, other.code());
            Ok(ExitCode::FAILURE)
        }
    }
}

pub(crate) async fn token(g: &GlobalArgs, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::Create(args) = command;
    let app = open_app(g, false).await?;
    let label = args.label.as_deref();
    let issued = match (&args.person, &args.system, &args.operator) {
        (Some(person), _, _) => {
            app.create_person_token(&Actor::Operator, person, label)
                .await
        }
        (_, Some(name), _) => app.create_system_token(&Actor::Operator, name, label).await,
        (_, _, Some(name)) => {
            app.create_operator_token(&Actor::Operator, name, label)
                .await
        }
        (None, None, None) => Err(AppError::invalid(
            "person",
            "required",
            "Précisez --person, --system ou --operator.",
        )),
    };
    app.store().close().await;
    match issued {
        Ok(issued) => {
            describe(&issued);
            println!("{}", issued.secret);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refused(e),
    }
}

/// What was created, on standard error (standard output carries the token alone).
fn describe(issued: &IssuedToken) {
    let holder = match &issued.view.holder {
        TokenHolder::Person(_) => "a person".to_owned(),
        TokenHolder::System(name) => format!("the system {name}"),
        TokenHolder::Operator(name) => format!("the operator ({name})"),
    };
    eprintln!(
        "token {} created for {holder}, labelled {:?}; it is shown this once:",
        issued.view.id, issued.view.label
    );
}

pub(crate) async fn rl(g: &GlobalArgs, command: RlCommand) -> anyhow::Result<ExitCode> {
    let RlCommand::Set(args) = command;
    let card = match args.card {
        Card::Cde => RepresentativeCard::Cde,
        Card::Cps => RepresentativeCard::Cps,
    };
    let app = open_app(g, false).await?;
    let done = app
        .designate_legal_representative(&Actor::Operator, &args.structure, &args.person, card)
        .await;
    app.store().close().await;
    match done {
        Ok(()) => {
            println!(
                "legal representative of {} set ({})",
                args.structure.trim(),
                card.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => refused(e),
    }
}

pub(crate) async fn habilitation(
    g: &GlobalArgs,
    command: HabilitationCommand,
) -> anyhow::Result<ExitCode> {
    let app = open_app(g, false).await?;
    let done = match &command {
        HabilitationCommand::List(args) => {
            let of = match (&args.person, &args.structure) {
                (Some(p), _) => HabilitationsOf::Person(p),
                (None, Some(s)) => HabilitationsOf::Structure(s),
                (None, None) => HabilitationsOf::Person(""),
            };
            app.habilitations_in_force(&Actor::Operator, of)
                .await
                .map(|list| {
                    for h in list {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            h.id.0,
                            h.kind.as_str(),
                            h.person_idnps,
                            h.scope.record.finess,
                            h.granted_at.strftime("%Y-%m-%d")
                        );
                    }
                })
        }
        HabilitationCommand::Revoke { id } => app
            .revoke(&Actor::Operator, HabilitationId(*id))
            .await
            .map(|()| println!("habilitation {id} revoked")),
    };
    app.store().close().await;
    match done {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => refused(e),
    }
}
