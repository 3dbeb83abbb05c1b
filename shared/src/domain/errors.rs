//! Catalogue of the error codes Meta's WhatsApp Cloud API reports when a message cannot be sent
//! or delivered (synchronously on the send, or as `statuses[].errors[]` on the webhook). Pure.
//!
//! Each code carries Meta's short title, the class that decides what the circuit breaker and the
//! alerts do with it, and one sentence telling an operations person what to do. Titles are copied
//! from Meta's "WhatsApp error codes" reference
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes>, now served at
//! <https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes/>),
//! except where the webhook carries a longer title that Meta documents on another page (131049,
//! 131050), and 134011 (Payments API reference). `shared/docs/errors.md` lists the pages.
//!
//! Meta asks integrators to branch on `code`, never on titles (titles are informational and will be
//! deprecated), so nothing here matches on text: the code is the key.

use serde::Serialize;

/// Meta's reference, named in the explanation of a code the catalogue does not know.
pub const REFERENCE_URL: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes";

/// What kind of failure a code is; decides what the circuit breaker and alerts do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Throughput or rate limits: sending faster than Meta allows. Trips the breaker on a spike.
    RateLimit,
    /// Meta withheld a marketing message to keep engagement healthy (per-user limits). Trips the
    /// breaker on a spike: it means the campaign is reaching people who do not read it.
    Engagement,
    /// The contact stopped marketing messages from the business: record an opt-out.
    OptOut,
    /// This one contact cannot receive this message; the campaign itself is fine.
    Recipient,
    /// The template is wrong, paused or disabled (132015/132016 hold its campaigns).
    Template,
    /// The business account or phone number cannot send: block the number's campaigns.
    Account,
    /// Payments configuration of the account.
    Payment,
    /// Our request (or token) is wrong: fix the integration, resending as is fails again.
    Request,
    /// A passing fault at Meta: retry later.
    Transient,
    /// A code Meta's references do not list (or a new one): kept, never dropped.
    Unknown,
}

impl ErrorClass {
    /// Every class, in declaration order (metrics and dashboards list them all, even at zero).
    pub const ALL: [ErrorClass; 10] = [
        ErrorClass::RateLimit,
        ErrorClass::Engagement,
        ErrorClass::OptOut,
        ErrorClass::Recipient,
        ErrorClass::Template,
        ErrorClass::Account,
        ErrorClass::Payment,
        ErrorClass::Request,
        ErrorClass::Transient,
        ErrorClass::Unknown,
    ];

    /// The stored and serialized name (the same string serde writes).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::RateLimit => "rate_limit",
            ErrorClass::Engagement => "engagement",
            ErrorClass::OptOut => "opt_out",
            ErrorClass::Recipient => "recipient",
            ErrorClass::Template => "template",
            ErrorClass::Account => "account",
            ErrorClass::Payment => "payment",
            ErrorClass::Request => "request",
            ErrorClass::Transient => "transient",
            ErrorClass::Unknown => "unknown",
        }
    }

    /// The class of a stored name; `None` for anything `as_str` does not produce.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One documented code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    pub code: i64,
    pub title: &'static str,
    pub class: ErrorClass,
    pub action: &'static str,
}

const fn e(code: i64, title: &'static str, class: ErrorClass, action: &'static str) -> ErrorInfo {
    ErrorInfo {
        code,
        title,
        class,
        action,
    }
}

/// Meta documents 200-299 as one range ("API Permission"); the catalogue keeps it once, under
/// its first code, and `lookup` folds the range onto it.
const API_PERMISSION_FIRST: i64 = 200;
const API_PERMISSION_LAST: i64 = 299;

use ErrorClass::{
    Account, Engagement, OptOut, Payment, RateLimit, Recipient, Request, Template, Transient,
};

/// Every code Meta documents for message delivery, sorted by code (a test checks order and uniqueness).
pub const CATALOGUE: &[ErrorInfo] = &[
    // Authorization
    e(0, "AuthException", Request,
        "Renew the tenant's access token (it expired, was revoked, or the user blocked the app) and update the stored secret before sending again."),
    // Other
    e(1, "API Unknown", Transient,
        "Check the WhatsApp Business Platform status page and retry later; if Meta reports no outage, check that the request is well formed."),
    e(2, "API Service", Transient,
        "Retry later: Meta's service is down or overloaded (see the WhatsApp Business Platform status page)."),
    // Authorization
    e(3, "API Method", Request,
        "Check the token's permissions in the access token debugger (whatsapp_business_messaging, whatsapp_business_management) and grant what is missing."),
    // Throttling
    e(4, "API Too Many Calls", RateLimit,
        "Slow down: the app reached its Graph API call rate limit; retry later with backoff and make fewer API calls."),
    // Authorization
    e(10, "Permission Denied", Request,
        "Check in the access token debugger that the app still has the permissions the endpoint needs, and grant them again if they were removed."),
    // Other
    e(33, "Parameter value is not valid", Account,
        "Hold this number's campaigns: Meta reports the business phone number deleted; check the number configured for the tenant."),
    e(100, "Invalid parameter", Request,
        "Fix the request: it carries an unsupported or misspelled parameter (see the endpoint reference), so resending it unchanged fails again."),
    // Authorization
    e(190, "Access token has expired", Request,
        "Renew the tenant's access token and update the stored secret; every send fails until then."),
    e(API_PERMISSION_FIRST, "API Permission", Request,
        "Grant the app the missing permission (check the token in the access token debugger); every send fails until then."),
    // Integrity
    e(368, "Temporarily blocked for policies violations", Account,
        "Hold this number's campaigns: Meta restricted the WhatsApp Business Account for a policy violation; review the notice in Business Support Home and request a review if it is wrong."),
    // Throttling
    e(80007, "Rate limit issues", RateLimit,
        "Slow down: the WhatsApp Business Account reached its API rate limit; retry later with backoff and reduce call volume."),
    e(130429, "Rate limit hit", RateLimit,
        "Slow down: the number reached its Cloud API message throughput; retry with backoff at a lower send rate."),
    // Other
    e(130472, "User's number is part of an experiment", Recipient,
        "Do not resend at once: Meta held this contact out of marketing messages for its marketing message experiment, which says nothing about the template or the number."),
    // Integrity
    e(130497, "Business account is restricted from messaging users in this country", Recipient,
        "Do not resend: this business account may not message users in the contact's country; drop that country from the campaign or lift the restriction (business verification, messaging limit tier)."),
    // Other / message delivery
    e(131000, "Something went wrong", Transient,
        "Retry later; if the failure persists, open a Meta direct support ticket quoting the fbtrace_id."),
    e(131005, "Access denied", Request,
        "Check in the access token debugger that the app has the permissions this request needs; it was denied."),
    e(131008, "Required parameter is missing", Request,
        "Fix the request: a required parameter is missing (see the endpoint reference)."),
    e(131009, "Parameter value is not valid", Request,
        "Fix the request: a parameter value is not valid (see the endpoint reference for the allowed values)."),
    e(131016, "Service unavailable", Transient,
        "Retry later: a Meta service is temporarily unavailable (see the WhatsApp Business Platform status page)."),
    e(131021, "Recipient cannot be sender", Request,
        "Fix the audience: the recipient is the sending business number itself."),
    e(131026, "Message Undeliverable", Recipient,
        "Do not retry this contact: the number is not on WhatsApp, has not accepted the current terms, or runs an old WhatsApp version; reach them another way."),
    // Integrity
    e(131031, "Account has been locked", Account,
        "Hold this number's campaigns: Meta locked the account (policy violation, or data such as the two-step verification PIN did not match); check its health status and policy notices."),
    e(131037, "WhatsApp provided number needs display name approval before message can be sent", Account,
        "Hold this number's campaigns until Meta approves the number's display name in WhatsApp Manager."),
    e(131042, "Business eligibility payment issue", Account,
        "Hold this number's campaigns and fix the WhatsApp Business Account's billing (payment method, credit line, currency, time zone) in Business Manager."),
    e(131045, "Incorrect certificate", Account,
        "Hold this number's campaigns and register the phone number again: the send failed on a registration (certificate) error."),
    e(131047, "Re-engagement message", Recipient,
        "Send an approved template instead: more than 24 hours have passed since this contact last wrote, so a free-form message is refused."),
    // Throttling
    e(131048, "Spam rate limit hit", RateLimit,
        "Slow down and check the number's quality rating in WhatsApp Manager: Meta restricts it because too many of its messages were blocked or reported as spam."),
    e(131049, "This message was not delivered to maintain healthy ecosystem engagement.", Engagement,
        "Do not resend at once: Meta limits marketing messages a user receives; retry this contact later, and reduce frequency to unengaged users."),
    e(131050, "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business", OptOut,
        "Record the opt-out and send this contact no more marketing: they stopped marketing messages from the business in WhatsApp and only they can resume them."),
    e(131051, "Unsupported message type", Recipient,
        "Do not resend this message type to this contact: it is not supported; send a supported type instead."),
    e(131052, "Media download error", Request,
        "Ask the contact to send the file again or through another channel: Meta could not download the media they sent (see error_data.details)."),
    e(131053, "Media upload error", Request,
        "Check the message's media (supported type and size, URL reachable) and resend: Meta could not upload it."),
    e(131055, "Method not allowed", Request,
        "Send only marketing templates through the Marketing Messages Lite API, and everything else through the Cloud API messages endpoint."),
    // Throttling
    e(131056, "(Business Account, Consumer Account) pair rate limit hit", RateLimit,
        "Wait before messaging this contact again: too many messages went to the same number in a short time, while other contacts can still be messaged."),
    e(131057, "Account in maintenance mode", Account,
        "Hold this number's campaigns for a few minutes: Meta put the business account in maintenance mode; contact Meta support if it lasts."),
    // Templates
    e(132000, "Template Param Count Mismatch", Template,
        "Fix the campaign's parameters: the number of values sent does not match the template's variables."),
    e(132001, "Template does not exist", Template,
        "Check the template's name and language and that it is approved: Meta has no approved template by that name in that language."),
    e(132005, "Template Hydrated Text Too Long", Template,
        "Shorten the parameter values: the template's text once filled in is too long."),
    e(132007, "Template Format Character Policy Violated", Template,
        "Edit the template: its content violates a WhatsApp policy (see Meta's template rejection reasons)."),
    e(132012, "Template Parameter Format Mismatch", Template,
        "Fix the parameter values so their format matches the one the template defines."),
    e(132015, "Template is Paused", Template,
        "Hold the template's campaigns: Meta paused the template for low quality; edit it and resume once Meta approves it again."),
    e(132016, "Template is Disabled", Template,
        "Stop the template's campaigns and create a new template with different content: Meta disabled this one for good after repeated low-quality pauses."),
    e(132068, "Flow is blocked", Template,
        "Fix the WhatsApp Flow the message uses: Meta has it in the blocked state."),
    e(132069, "Flow is throttled", Template,
        "Fix the WhatsApp Flow and wait: it is throttled after 10 messages using it in the last hour."),
    // Registration
    e(133000, "Incomplete Deregistration", Account,
        "Deregister the phone number again, then register it: a previous deregistration failed."),
    e(133004, "Server Temporarily Unavailable", Transient,
        "Retry later: Meta's server is temporarily unavailable (see the status page and the error details)."),
    e(133005, "Two step verification PIN Mismatch", Account,
        "Use the right two-step verification PIN, or disable two-step verification and set a new PIN."),
    e(133006, "Phone number re-verification needed", Account,
        "Verify the phone number again, then register it."),
    e(133008, "Too Many two step verification PIN Guesses", Account,
        "Stop trying PINs and retry after the time given in the error details."),
    e(133009, "Two step verification PIN Guessed Too Fast", Account,
        "Slow down PIN attempts and retry after the time given in the error details."),
    e(133010, "Phone number Not Registered", Account,
        "Hold this number's campaigns and register the phone number on the Cloud API before sending from it."),
    e(133015, "Please wait a few minutes before attempting to register this phone number", Account,
        "Wait about five minutes and register again: the number was recently deleted and the deletion has not finished."),
    e(133016, "Account register deregister rate limit exceeded", Account,
        "Stop registration attempts and retry once Meta unblocks the number: it made too many register or deregister attempts in a short time."),
    // Payments API
    e(134011, "WhatsApp Payments terms of service has not been accepted", Payment,
        "Accept the WhatsApp Payments terms of service through the link in the error message, then resend."),
    // Other
    e(135000, "Generic user error", Request,
        "Check the request against the endpoint reference, and contact Meta support if the error persists."),
];

/// The entry of a code; `None` when Meta's references do not list it.
///
/// Codes 200-299 all return the `200` entry ("API Permission"), Meta's one range.
pub fn lookup(code: i64) -> Option<&'static ErrorInfo> {
    let key = if (API_PERMISSION_FIRST..=API_PERMISSION_LAST).contains(&code) {
        API_PERMISSION_FIRST
    } else {
        code
    };
    CATALOGUE
        .binary_search_by_key(&key, |info| info.code)
        .ok()
        .and_then(|i| CATALOGUE.get(i))
}

/// A code explained: the catalogue's words, or class Unknown with a generic title/action naming
/// the code (never dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub code: i64,
    pub title: String,
    pub class: ErrorClass,
    pub action: String,
}

/// The explanation of a code. `code` is always the code asked about (for 200-299 too), so a
/// report never shows a different number than Meta sent.
pub fn explain(code: i64) -> Explanation {
    match lookup(code) {
        Some(info) => Explanation {
            code,
            title: info.title.to_owned(),
            class: info.class,
            action: info.action.to_owned(),
        },
        None => Explanation {
            code,
            title: format!("Unknown error code {code}"),
            class: ErrorClass::Unknown,
            action: format!(
                "Look up code {code} in Meta's error reference ({REFERENCE_URL}) and the error's details, then add it to the catalogue."
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes the pipeline depends on by name.
    const REQUIRED: &[i64] = &[
        130429, 130472, 131000, 131005, 131008, 131009, 131016, 131021, 131026, 131031, 131042,
        131045, 131047, 131048, 131049, 131050, 131051, 131052, 131053, 131056, 131057, 132000,
        132001, 132005, 132007, 132012, 132015, 132016, 133010, 368,
    ];

    #[test]
    fn the_catalogue_is_sorted_and_unique() {
        for pair in CATALOGUE.windows(2) {
            assert!(
                pair[0].code < pair[1].code,
                "{} is not before {}",
                pair[0].code,
                pair[1].code
            );
        }
    }

    #[test]
    fn every_required_code_is_listed() {
        for &code in REQUIRED {
            let info = lookup(code).unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!(info.code, code);
        }
    }

    #[test]
    fn every_entry_has_words_and_a_known_class() {
        for info in CATALOGUE {
            assert!(!info.title.trim().is_empty(), "{} has no title", info.code);
            assert!(
                info.action.ends_with('.'),
                "{}: action is not a sentence",
                info.code
            );
            assert_ne!(
                info.class,
                ErrorClass::Unknown,
                "{} is catalogued as unknown",
                info.code
            );
            assert_eq!(lookup(info.code), Some(info));
        }
    }

    #[test]
    fn the_fixed_class_assignments_hold() {
        use ErrorClass::*;
        let fixed: &[(i64, ErrorClass)] = &[
            (4, RateLimit),
            (80007, RateLimit),
            (130429, RateLimit),
            (131048, RateLimit),
            (131056, RateLimit),
            (131049, Engagement),
            (131050, OptOut),
            (131031, Account),
            (368, Account),
            (131042, Account),
            (133010, Account),
            (131057, Account),
            (132000, Template),
            (132001, Template),
            (132005, Template),
            (132007, Template),
            (132012, Template),
            (132015, Template),
            (132016, Template),
            (131000, Transient),
            (131016, Transient),
            (133004, Transient),
            (131026, Recipient),
            (131047, Recipient),
            (131051, Recipient),
            (130472, Recipient),
            (131008, Request),
            (131009, Request),
            (131021, Request),
            (131053, Request),
            (131052, Request),
            (131005, Request),
            (100, Request),
        ];
        for &(code, class) in fixed {
            assert_eq!(
                lookup(code).map(|i| i.class),
                Some(class),
                "class of {code}"
            );
        }
        for info in CATALOGUE
            .iter()
            .filter(|i| (132_000..133_000).contains(&i.code))
        {
            assert_eq!(info.class, Template, "class of {}", info.code);
        }
    }

    #[test]
    fn meta_titles_of_the_codes_the_breaker_reads() {
        assert_eq!(
            explain(131049).title,
            "This message was not delivered to maintain healthy ecosystem engagement."
        );
        assert_eq!(
            explain(131056).title,
            "(Business Account, Consumer Account) pair rate limit hit"
        );
        assert_eq!(
            explain(368).title,
            "Temporarily blocked for policies violations"
        );
        assert_eq!(explain(131031).title, "Account has been locked");
        assert_eq!(
            explain(130472).title,
            "User's number is part of an experiment"
        );
        assert_eq!(explain(133010).title, "Phone number Not Registered");
        assert_eq!(explain(132015).title, "Template is Paused");
        assert_eq!(explain(132016).title, "Template is Disabled");
    }

    #[test]
    fn an_unknown_code_is_explained_not_dropped() {
        assert_eq!(lookup(999_999), None);
        assert_eq!(lookup(-1), None);
        let x = explain(999_999);
        assert_eq!(x.code, 999_999);
        assert_eq!(x.class, ErrorClass::Unknown);
        assert!(x.title.contains("999999"), "{}", x.title);
        assert!(x.action.contains("999999"), "{}", x.action);
    }

    #[test]
    fn the_permission_range_folds_onto_one_entry() {
        for code in [200, 250, 299] {
            let info = lookup(code).unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!((info.code, info.class), (200, ErrorClass::Request));
            let x = explain(code);
            assert_eq!((x.code, x.title.as_str()), (code, "API Permission"));
        }
        assert_eq!(lookup(199), None);
        assert_eq!(lookup(300), None);
    }

    #[test]
    fn class_names_round_trip() {
        for class in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(class.as_str()), Some(class));
        }
        let mut names: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorClass::ALL.len());
        assert_eq!(ErrorClass::parse("RateLimit"), None);
        assert_eq!(ErrorClass::parse(""), None);
    }

    #[test]
    fn serde_writes_the_snake_case_name() {
        assert_eq!(
            serde_json::to_string(&ErrorClass::RateLimit).unwrap(),
            "\"rate_limit\""
        );
        for class in ErrorClass::ALL {
            assert_eq!(
                serde_json::to_string(&class).unwrap(),
                format!("\"{}\"", class.as_str())
            );
        }
        let v = serde_json::to_value(explain(131050)).unwrap();
        assert_eq!(v["class"], "opt_out");
        assert_eq!(v["code"], 131050);
        let v = serde_json::to_value(lookup(131049)).unwrap();
        assert_eq!(v["class"], "engagement");
    }
}
