//! The secrets in `infra/template.yaml`: every function gets the Secrets Manager ARNs of
//! exactly the secrets its settings read (`<NAME>_SECRET_ARN`), never a secret's value
//! nor a `{{resolve:…}}` reference in its environment, and its role may read those
//! secrets and no other. The database URL in the template verifies the server's
//! certificate against the CA bundle the template ships.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sellerops::ops::config::secrets::SECRET_VARIABLES;
use sellerops::ops::config::{
    AcceptOrdersSettings, AutoReplySettings, EvaluatePricingRulesSettings,
    FetchShippingLabelSettings, FromEnvironment, IngestOrdersFileSettings,
    MarketplaceWebhookSettings, SyncMarketplaceSettings,
};
use serde_norway::Value;

/// Where the RdsCaBundle layer puts the bundle (a layer's files appear under /opt).
const CA_BUNDLE: &str = "/opt/rds-ca/global-bundle.pem";

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let text = std::fs::read_to_string(&path).expect("infra/template.yaml is readable");
    serde_norway::from_str(&text).expect("infra/template.yaml is YAML")
}

/// The secret variables each function's settings read, by its binary name.
fn secrets_read(binary: &str) -> Vec<&'static str> {
    match binary {
        "accept-orders" => AcceptOrdersSettings::secret_variables(),
        "fetch-shipping-label" => FetchShippingLabelSettings::secret_variables(),
        "ingest-orders-file" => IngestOrdersFileSettings::secret_variables(),
        "marketplace-webhook" => MarketplaceWebhookSettings::secret_variables(),
        "sync-marketplace" => SyncMarketplaceSettings::secret_variables(),
        "conversation-auto-reply" => AutoReplySettings::secret_variables(),
        "evaluate-pricing-rules" => EvaluatePricingRulesSettings::secret_variables(),
        other => panic!("{other}: name its settings type in this test"),
    }
}

/// A function of the template: its binary, its environment (Globals' merged with its
/// own, as SAM merges them) and its policies.
struct TemplateFunction<'a> {
    binary: &'a str,
    environment: BTreeMap<&'a str, &'a Value>,
    policies: Vec<&'a Value>,
}

fn functions(template: &Value) -> Vec<TemplateFunction<'_>> {
    let globals = &template["Globals"]["Function"];
    let Value::Mapping(resources) = &template["Resources"] else {
        panic!("the template has Resources");
    };
    let mut found = Vec::new();
    for resource in resources.values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let properties = &resource["Properties"];
        let mut environment = BTreeMap::new();
        for source in [globals, properties] {
            if let Value::Mapping(variables) = &source["Environment"]["Variables"] {
                for (name, value) in variables {
                    environment.insert(name.as_str().expect("variable name"), value);
                }
            }
        }
        let policies = match &properties["Policies"] {
            Value::Sequence(policies) => policies.iter().collect(),
            Value::Null => Vec::new(),
            other => vec![other],
        };
        found.push(TemplateFunction {
            binary: resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .expect("every function names its binary"),
            environment,
            policies,
        });
    }
    assert!(!found.is_empty(), "no functions in the template");
    found
}

/// A value's text: a plain string, or what `!Sub`, `!Ref` and the like carry.
fn text(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => text(&tagged.value),
        Value::String(text) => text.clone(),
        Value::Sequence(items) => items.iter().map(text).collect::<Vec<_>>().join(" "),
        Value::Mapping(map) => map.values().map(text).collect::<Vec<_>>().join(" "),
        other => serde_norway::to_string(other).unwrap_or_default(),
    }
}

/// The template parameter or resource that a `<NAME>_SECRET_ARN` value or a policy
/// resource names: `!Ref Secret`, or `!Sub "${Secret}#key"`.
fn named_secret(value: &Value) -> String {
    let Value::Tagged(tagged) = value else {
        panic!("a secret is named with !Ref or !Sub, not {value:?}");
    };
    let inner = tagged.value.as_str().expect("a !Ref or !Sub string");
    if tagged.tag == "Ref" {
        return inner.to_owned();
    }
    assert!(tagged.tag == "Sub", "unexpected {}", tagged.tag);
    let name = inner
        .strip_prefix("${")
        .and_then(|rest| rest.split_once('}'))
        .map(|(name, key)| {
            assert!(
                key.is_empty() || (key.starts_with('#') && key.len() > 1),
                "{inner}: only #key may follow the secret"
            );
            name
        })
        .unwrap_or_else(|| panic!("{inner}: expected ${{Secret}} or ${{Secret}}#key"));
    name.to_owned()
}

/// The secrets every `secretsmanager:*` statement of the policies allows, or a
/// problem when a statement allows more than GetSecretValue on named secrets.
fn readable_secrets(binary: &str, policies: &[&Value]) -> BTreeSet<String> {
    let mut secrets = BTreeSet::new();
    for policy in policies {
        let Value::Sequence(statements) = &policy["Statement"] else {
            // A SAM policy template: none of them reads Secrets Manager here.
            let name = text(policy);
            assert!(
                !serde_norway::to_string(policy)
                    .unwrap()
                    .to_lowercase()
                    .contains("secret"),
                "{binary}: policy {name} mentions secrets; use a statement naming each"
            );
            continue;
        };
        for statement in statements {
            let actions = text(&statement["Action"]);
            if !actions.contains("secretsmanager") {
                continue;
            }
            assert_eq!(
                actions, "secretsmanager:GetSecretValue",
                "{binary}: only GetSecretValue"
            );
            assert_eq!(statement["Effect"].as_str(), Some("Allow"));
            let resources = match &statement["Resource"] {
                Value::Sequence(resources) => resources.iter().collect(),
                one => vec![one],
            };
            for resource in resources {
                secrets.insert(named_secret(resource));
            }
        }
    }
    secrets
}

#[test]
fn no_function_environment_holds_a_secret_or_a_resolve_reference() {
    let template = template();
    for function in functions(&template) {
        for (name, value) in &function.environment {
            let value = text(value);
            assert!(
                !value.contains("{{resolve:"),
                "{}: {name} is resolved at deploy time: {value}",
                function.binary
            );
            let is_secret = SECRET_VARIABLES.iter().any(|secret| secret.name == *name);
            // The database URL may stand in the environment as long as it holds no
            // password: host, database and user are not secret.
            if *name == "DATABASE_URL" {
                let (_, rest) = value.split_once("://").expect("a URL");
                let userinfo = rest.split_once('@').map_or("", |(userinfo, _)| userinfo);
                assert!(
                    !userinfo.contains(':'),
                    "{}: DATABASE_URL carries a password",
                    function.binary
                );
            } else {
                assert!(
                    !is_secret,
                    "{}: {name} is a secret's value; pass {name}_SECRET_ARN",
                    function.binary
                );
            }
        }
    }
}

#[test]
fn every_function_gets_the_arns_of_the_secrets_it_reads_and_may_read_only_those() {
    let template = template();
    let parameters = &template["Parameters"];
    for function in functions(&template) {
        let binary = function.binary;
        // Every secret the settings read comes from Secrets Manager, except the database
        // URL, which is plain (without its password).
        let expected: BTreeSet<String> = secrets_read(binary)
            .into_iter()
            .filter(|name| *name != "DATABASE_URL")
            .map(|name| format!("{name}_SECRET_ARN"))
            .collect();
        let given: BTreeSet<String> = function
            .environment
            .keys()
            .filter(|name| name.ends_with("_SECRET_ARN"))
            .map(|name| (*name).to_owned())
            .collect();
        assert_eq!(given, expected, "{binary}: the _SECRET_ARN variables");

        let named: BTreeSet<String> = function
            .environment
            .iter()
            .filter(|(name, _)| name.ends_with("_SECRET_ARN"))
            .map(|(_, value)| named_secret(value))
            .collect();
        for secret in &named {
            let pattern = parameters[secret.as_str()]["AllowedPattern"]
                .as_str()
                .unwrap_or_else(|| panic!("{binary}: {secret} is a parameter with a pattern"));
            assert!(
                pattern.starts_with("^arn:"),
                "{binary}: {secret} must be a secret's full ARN, for the policy"
            );
        }
        assert_eq!(
            readable_secrets(binary, &function.policies),
            named,
            "{binary}: the secrets its role may read"
        );
    }
}

#[test]
fn the_database_url_verifies_the_server_against_the_shipped_rds_bundle() {
    let template = template();
    let url = text(&template["Globals"]["Function"]["Environment"]["Variables"]["DATABASE_URL"]);
    assert!(url.contains("sslmode=verify-full"), "{url}");
    assert!(url.contains(&format!("sslrootcert={CA_BUNDLE}")), "{url}");

    // The layer that puts the bundle there is attached to every function.
    let layers = text(&template["Globals"]["Function"]["Layers"]);
    assert_eq!(layers, "RdsCaBundle");
    let layer = &template["Resources"]["RdsCaBundle"];
    assert_eq!(
        layer["Type"].as_str(),
        Some("AWS::Serverless::LayerVersion")
    );
    let content = layer["Properties"]["ContentUri"]
        .as_str()
        .expect("the layer's ContentUri");
    let inside = CA_BUNDLE.strip_prefix("/opt/").unwrap();
    // The folder `make rds-ca-bundle` writes into, relative to the template.
    let makefile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Makefile"))
            .expect("Makefile");
    let target = format!("infra/{}/{inside}", content.trim_end_matches('/'));
    assert!(
        makefile.contains(&target),
        "make rds-ca-bundle writes {target}"
    );
}

#[test]
fn the_local_stack_provisions_every_secret_a_function_may_read() {
    let provision = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/local/provision.py"),
    )
    .expect("infra/local/provision.py");
    for secret in SECRET_VARIABLES {
        assert!(
            provision.contains(&format!("\"{}\":", secret.name)),
            "provision.py's LOCAL_SECRETS lacks {}",
            secret.name
        );
    }
}
