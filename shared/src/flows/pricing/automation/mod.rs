//! Automation rules (`workflow.automation_rules`): after listings are evaluated, rules
//! whose trigger and conditions hold for a listing create a task on the board's default
//! stage or an alert for the seller, at most once per cooldown per listing and within
//! the rule's daily limit.
//!
//! - [`rule`]: rules as written, read into typed triggers, conditions and actions; a
//!   bad rule is refused when it is written, naming the part and the field.
//! - [`trigger`]: whether a rule fires for a listing's [`ListingSignals`], and what the
//!   firing creates: pure.
//! - [`firing`]: writing the firings through the firing log
//!   (`workflow.automation_firings`), which holds cooldowns and daily limits even when
//!   two runs fire at once; writing and loading rules.
//! - [`run`]: a run after an evaluation: the listings' figures loaded in one query,
//!   the rules planned and fired.

pub mod firing;
pub mod rule;
pub mod run;
pub mod trigger;

pub use firing::{
    fire, insert_automation_rule, load_automation_rules, Fired, FiringOutcome, NewAutomationRule,
    WriteRuleError,
};
pub use rule::{Action, AutomationRule, AutomationRuleDefinition, InvalidAutomationRule, Trigger};
pub use run::{load_listing_signals, run_automation, AutomationReport};
pub use trigger::{
    fires, plan_firings, CompetitorSignal, ListingSignals, PlannedFiring, PlannedOutcome,
};
