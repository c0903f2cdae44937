//! Roles and the citizen's mobile number, read from verified claims.

use serde_json::Value;

use crate::principal::Principal;
use crate::settings::AuthSettings;

/// Settings that map claims to roles and to the citizen's mobile number.
#[derive(Debug, Clone, Default)]
pub(super) struct RoleRules {
    client_id: Option<String>,
    role_claims: Vec<String>,
    distribution_roles: Vec<String>,
    print_roles: Vec<String>,
    mobile_claims: Vec<String>,
}

impl RoleRules {
    pub(super) fn from_settings(settings: &AuthSettings) -> RoleRules {
        RoleRules {
            client_id: settings.client_id.clone(),
            role_claims: settings.role_claims.clone(),
            distribution_roles: settings.distribution_roles.clone(),
            print_roles: settings.print_roles.clone(),
            mobile_claims: settings.mobile_claims.clone(),
        }
    }

    /// Builds the caller of an identity provider token: roles from the role
    /// claims, and the mobile number only when the token has neither role.
    pub(super) fn principal(&self, claims: &Value) -> Principal {
        let client = self
            .client_id
            .clone()
            .or_else(|| claims.get("azp").and_then(Value::as_str).map(str::to_owned));
        let mut roles: Vec<&str> = Vec::new();
        for path in &self.role_claims {
            if path.contains("<client>") && client.is_none() {
                continue;
            }
            if let Some(Value::Array(list)) = claim_at(claims, path, client.as_deref()) {
                roles.extend(list.iter().filter_map(Value::as_str));
            }
        }
        let distribution = roles
            .iter()
            .any(|role| self.distribution_roles.iter().any(|r| r == role));
        let print = roles
            .iter()
            .any(|role| self.print_roles.iter().any(|r| r == role));
        let mobile = if distribution || print {
            None
        } else {
            self.mobile(claims)
        };
        Principal {
            subject: subject(claims),
            distribution,
            print,
            mobile,
        }
    }

    /// Builds the caller of a citizen-login token, which never carries a role
    /// even when its claims name one.
    pub(super) fn citizen(&self, claims: &Value) -> Principal {
        Principal {
            subject: subject(claims),
            distribution: false,
            print: false,
            mobile: self.mobile(claims),
        }
    }

    /// Returns the first mobile-number claim that contains a non-blank string. A
    /// blank claim counts as absent: it would otherwise match every
    /// certificate stored with an empty mobile number.
    fn mobile(&self, claims: &Value) -> Option<String> {
        self.mobile_claims
            .iter()
            .filter_map(|name| claims.get(name).and_then(Value::as_str))
            .find(|mobile| !mobile.trim().is_empty())
            .map(str::to_owned)
    }
}

fn subject(claims: &Value) -> Option<String> {
    claims.get("sub").and_then(Value::as_str).map(str::to_owned)
}

/// Follows a dotted path such as `realm_access.roles` through nested objects.
/// `<client>` in a segment stands for `client`, which stays within that one
/// key even when it contains dots, as client ids such as `divoc.facility` may.
fn claim_at<'a>(claims: &'a Value, path: &str, client: Option<&str>) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |value, key| match client {
        Some(client) if key.contains("<client>") => value.get(key.replace("<client>", client)),
        _ => value.get(key),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules() -> RoleRules {
        RoleRules::from_settings(&AuthSettings::default())
    }

    #[test]
    fn realm_role_gives_distribution() {
        let principal = rules().principal(&json!({
            "sub": "partner-1",
            "preferred_username": "9000000001",
            "realm_access": {"roles": ["offline_access", "api"]},
        }));
        assert_eq!(
            principal,
            Principal {
                subject: Some("partner-1".to_owned()),
                distribution: true,
                print: false,
                mobile: None,
            }
        );
    }

    #[test]
    fn client_role_read_through_azp() {
        let claims = json!({
            "azp": "facility-app",
            "resource_access": {
                "facility-app": {"roles": ["facility-staff"]},
                "other-app": {"roles": ["api"]},
            },
        });
        let principal = rules().principal(&claims);
        assert!(principal.print);
        assert!(!principal.distribution);
        assert_eq!(principal.mobile, None);
    }

    #[test]
    fn client_id_overrides_azp() {
        let settings = AuthSettings {
            client_id: Some("other-app".to_owned()),
            ..AuthSettings::default()
        };
        let claims = json!({
            "azp": "facility-app",
            "resource_access": {
                "facility-app": {"roles": ["facility-staff"]},
                "other-app": {"roles": ["api"]},
            },
        });
        let principal = RoleRules::from_settings(&settings).principal(&claims);
        assert!(principal.distribution);
        assert!(!principal.print);
    }

    #[test]
    fn client_id_with_dots_is_one_key() {
        let claims = json!({
            "azp": "divoc.facility",
            "resource_access": {"divoc.facility": {"roles": ["facility-staff"]}},
        });
        let principal = rules().principal(&claims);
        assert!(principal.print);
        // The same roles nested under `divoc` and `facility` are another client's.
        let nested = json!({
            "azp": "divoc.facility",
            "resource_access": {"divoc": {"facility": {"roles": ["facility-staff"]}}},
        });
        assert!(!rules().principal(&nested).print);
    }

    #[test]
    fn no_client_skips_client_roles() {
        let claims = json!({"resource_access": {"facility-app": {"roles": ["facility-staff"]}}});
        let principal = rules().principal(&claims);
        assert!(!principal.print);
        assert!(!principal.distribution);
    }

    #[test]
    fn both_roles_kept() {
        let claims = json!({
            "azp": "portal",
            "preferred_username": "9000000001",
            "realm_access": {"roles": ["certificate-distribution"]},
            "resource_access": {"portal": {"roles": ["facility-staff"]}},
        });
        let principal = rules().principal(&claims);
        assert!(principal.distribution);
        assert!(principal.print);
        assert_eq!(principal.mobile, None);
    }

    #[test]
    fn citizen_mobile_from_preferred_username() {
        let principal = rules().principal(&json!({
            "sub": "citizen-1",
            "preferred_username": "9000000001",
            "realm_access": {"roles": ["offline_access"]},
        }));
        assert!(principal.is_citizen());
        assert_eq!(principal.mobile.as_deref(), Some("9000000001"));
        assert_eq!(principal.subject.as_deref(), Some("citizen-1"));
    }

    #[test]
    fn citizen_mobile_from_phone() {
        let principal = rules().principal(&json!({"Phone": "9000000003", "exp": 1}));
        assert!(principal.is_citizen());
        assert_eq!(principal.mobile.as_deref(), Some("9000000003"));
        assert_eq!(principal.subject, None);
    }

    #[test]
    fn preferred_username_tried_before_phone() {
        let principal = rules().principal(&json!({
            "preferred_username": "9000000001",
            "Phone": "9000000003",
        }));
        assert_eq!(principal.mobile.as_deref(), Some("9000000001"));
    }

    #[test]
    fn blank_mobile_claim_ignored() {
        let principal = rules().principal(&json!({"preferred_username": ""}));
        assert_eq!(principal.mobile, None);
        let principal = rules().principal(&json!({"preferred_username": "  "}));
        assert_eq!(principal.mobile, None);
    }

    #[test]
    fn blank_preferred_username_falls_back_to_phone() {
        let principal = rules().principal(&json!({
            "preferred_username": "",
            "Phone": "9000000003",
        }));
        assert_eq!(principal.mobile.as_deref(), Some("9000000003"));
    }

    #[test]
    fn non_string_mobile_ignored() {
        let principal = rules().principal(&json!({"preferred_username": 9000000001_u64}));
        assert_eq!(principal.mobile, None);
    }

    #[test]
    fn citizen_login_ignores_roles() {
        let principal = rules().citizen(&json!({
            "Phone": "9000000001",
            "realm_access": {"roles": ["api"]},
        }));
        assert!(!principal.distribution);
        assert!(!principal.print);
        assert_eq!(principal.mobile.as_deref(), Some("9000000001"));
    }
}
