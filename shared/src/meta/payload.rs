//! Serde mirrors of the webhook bodies Meta POSTs (Cloud API, `whatsapp_business_account` object).
//!
//! Field names are Meta's, verbatim. Types borrow from the body where they can (no allocation for
//! strings without escapes), every field Meta may leave out is optional, unknown fields are ignored,
//! and status / event / quality strings are open enums.

use super::lenient::{opt_u64_or_string, u64_or_string, CowStr};
use super::open_enum::open_enum;
use serde::Deserialize;
use std::borrow::Cow;

// The envelope (`object`, `entry[].id/time/changes`, `changes[].field/value`) is read by
// `super::envelope`, straight into events; these are the members of a change's `value`.

/// The members of every `value` shape Meta documents, all optional (Meta's reference describes
/// `value` as one object whose members depend on `field`, which comes after it). The `messages`
/// shape's members are kept here; every other shape's are in [`OtherMembers`], boxed and only
/// allocated when one of them appears, so the value a batch of statuses is read into stays small
/// (it is built, moved and dropped once per change, on the webhook's hot path).
#[derive(Debug, Default)]
pub struct ValueFields<'a> {
    // field = messages
    pub messaging_product: Option<Cow<'a, str>>,
    pub metadata: Option<Metadata<'a>>,
    pub statuses: Vec<Status<'a>>,
    pub messages: Vec<InboundMessage<'a>>,
    pub contacts: Vec<Contact<'a>>,
    pub errors: Vec<MetaError<'a>>,
    /// Template, phone number and account members, when the value has any.
    pub other: Option<Box<OtherMembers<'a>>>,
}

/// The members of the template, phone number and account shapes.
#[derive(Debug, Default)]
pub struct OtherMembers<'a> {
    // message_template_status_update, phone_number_quality_update, account_update
    pub event: Option<Cow<'a, str>>,
    // every template field
    pub message_template_id: Option<u64>,
    pub message_template_name: Option<Cow<'a, str>>,
    pub message_template_language: Option<Cow<'a, str>>,
    pub message_template_category: Option<Cow<'a, str>>,
    pub reason: Option<Cow<'a, str>>,
    pub other_info: Option<OtherInfo<'a>>,
    pub disable_info: Option<DisableInfo>,
    pub rejection_info: Option<RejectionInfo<'a>>,
    // message_template_quality_update
    pub previous_quality_score: Option<QualityScore>,
    pub new_quality_score: Option<QualityScore>,
    // template_category_update
    pub previous_category: Option<Cow<'a, str>>,
    pub new_category: Option<Cow<'a, str>>,
    pub correct_category: Option<Cow<'a, str>>,
    pub category_update_timestamp: Option<u64>,
    // phone_number_quality_update
    pub display_phone_number: Option<Cow<'a, str>>,
    pub current_limit: Option<Cow<'a, str>>,
    pub max_daily_conversations_per_business: Option<u64>,
    // account_update
    pub phone_number: Option<Cow<'a, str>>,
    pub ban_info: Option<BanInfo<'a>>,
    // account_alerts
    pub entity_type: Option<Cow<'a, str>>,
    pub entity_id: Option<Cow<'a, str>>,
    pub alert_info: Option<Deferred<'a, AlertInfo<'a>>>,
    // business_capability_update
    pub max_daily_conversation_per_phone: Option<u64>,
    pub max_phone_numbers_per_business: Option<u64>,
    pub max_phone_numbers_per_waba: Option<u64>,
    // account_review_update
    pub decision: Option<Cow<'a, str>>,
}

/// `value`'s members by Meta's names (what a derive would generate, written out because the
/// members go to two structs).
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ValueMember {
    MessagingProduct,
    Metadata,
    Statuses,
    Messages,
    Contacts,
    Errors,
    Event,
    MessageTemplateId,
    MessageTemplateName,
    MessageTemplateLanguage,
    MessageTemplateCategory,
    Reason,
    OtherInfo,
    DisableInfo,
    RejectionInfo,
    PreviousQualityScore,
    NewQualityScore,
    PreviousCategory,
    NewCategory,
    CorrectCategory,
    CategoryUpdateTimestamp,
    DisplayPhoneNumber,
    CurrentLimit,
    MaxDailyConversationsPerBusiness,
    PhoneNumber,
    BanInfo,
    EntityType,
    EntityId,
    AlertInfo,
    MaxDailyConversationPerPhone,
    MaxPhoneNumbersPerBusiness,
    MaxPhoneNumbersPerWaba,
    Decision,
    #[serde(other)]
    Other,
}

/// An id or timestamp as a number or a string of digits, or null.
struct LenientU64(Option<u64>);

impl<'de> Deserialize<'de> for LenientU64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_u64_or_string(d).map(Self)
    }
}

impl<'de> Deserialize<'de> for ValueFields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = ValueFields<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a change value object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::{Error, IgnoredAny};
        /// Stores a member once; a second occurrence is an error, as with a derive (unless the
        /// first was null).
        fn once<T, E: Error>(
            slot: &mut Option<T>,
            value: Option<T>,
            name: &'static str,
        ) -> Result<(), E> {
            if slot.is_some() {
                return Err(E::duplicate_field(name));
            }
            *slot = value;
            Ok(())
        }
        fn list<T, E: Error>(
            seen: &mut u8,
            bit: u8,
            slot: &mut Vec<T>,
            value: Option<Vec<T>>,
            name: &'static str,
        ) -> Result<(), E> {
            if *seen & bit != 0 {
                return Err(E::duplicate_field(name));
            }
            *seen |= bit;
            *slot = value.unwrap_or_default();
            Ok(())
        }
        let cow = |v: Option<CowStr<'de>>| v.map(|s| s.0);
        let mut v = ValueFields::default();
        // Which list members were seen (a list can be empty, so its emptiness does not tell).
        let mut seen = 0u8;
        while let Some(member) = map.next_key::<ValueMember>()? {
            // Every member of another shape lands in the box, created on the first one.
            macro_rules! other {
                ($field:ident, $name:literal, $value:expr) => {{
                    let value = $value;
                    let other = v.other.get_or_insert_with(Box::default);
                    once(&mut other.$field, value, $name)?
                }};
            }
            match member {
                ValueMember::MessagingProduct => once(
                    &mut v.messaging_product,
                    cow(map.next_value()?),
                    "messaging_product",
                )?,
                ValueMember::Metadata => once(&mut v.metadata, map.next_value()?, "metadata")?,
                ValueMember::Statuses => {
                    list(&mut seen, 1, &mut v.statuses, map.next_value()?, "statuses")?
                }
                ValueMember::Messages => {
                    list(&mut seen, 2, &mut v.messages, map.next_value()?, "messages")?
                }
                ValueMember::Contacts => {
                    list(&mut seen, 4, &mut v.contacts, map.next_value()?, "contacts")?
                }
                ValueMember::Errors => {
                    list(&mut seen, 8, &mut v.errors, map.next_value()?, "errors")?
                }
                ValueMember::Event => other!(event, "event", cow(map.next_value()?)),
                ValueMember::MessageTemplateId => other!(
                    message_template_id,
                    "message_template_id",
                    map.next_value::<LenientU64>()?.0
                ),
                ValueMember::MessageTemplateName => other!(
                    message_template_name,
                    "message_template_name",
                    cow(map.next_value()?)
                ),
                ValueMember::MessageTemplateLanguage => other!(
                    message_template_language,
                    "message_template_language",
                    cow(map.next_value()?)
                ),
                ValueMember::MessageTemplateCategory => other!(
                    message_template_category,
                    "message_template_category",
                    cow(map.next_value()?)
                ),
                ValueMember::Reason => other!(reason, "reason", cow(map.next_value()?)),
                ValueMember::OtherInfo => other!(other_info, "other_info", map.next_value()?),
                ValueMember::DisableInfo => other!(disable_info, "disable_info", map.next_value()?),
                ValueMember::RejectionInfo => {
                    other!(rejection_info, "rejection_info", map.next_value()?)
                }
                ValueMember::PreviousQualityScore => other!(
                    previous_quality_score,
                    "previous_quality_score",
                    map.next_value()?
                ),
                ValueMember::NewQualityScore => {
                    other!(new_quality_score, "new_quality_score", map.next_value()?)
                }
                ValueMember::PreviousCategory => other!(
                    previous_category,
                    "previous_category",
                    cow(map.next_value()?)
                ),
                ValueMember::NewCategory => {
                    other!(new_category, "new_category", cow(map.next_value()?))
                }
                ValueMember::CorrectCategory => {
                    other!(correct_category, "correct_category", cow(map.next_value()?))
                }
                ValueMember::CategoryUpdateTimestamp => other!(
                    category_update_timestamp,
                    "category_update_timestamp",
                    map.next_value::<LenientU64>()?.0
                ),
                ValueMember::DisplayPhoneNumber => other!(
                    display_phone_number,
                    "display_phone_number",
                    cow(map.next_value()?)
                ),
                ValueMember::CurrentLimit => {
                    other!(current_limit, "current_limit", cow(map.next_value()?))
                }
                ValueMember::MaxDailyConversationsPerBusiness => other!(
                    max_daily_conversations_per_business,
                    "max_daily_conversations_per_business",
                    map.next_value()?
                ),
                ValueMember::PhoneNumber => {
                    other!(phone_number, "phone_number", cow(map.next_value()?))
                }
                ValueMember::BanInfo => other!(ban_info, "ban_info", map.next_value()?),
                ValueMember::EntityType => {
                    other!(entity_type, "entity_type", cow(map.next_value()?))
                }
                ValueMember::EntityId => other!(entity_id, "entity_id", cow(map.next_value()?)),
                ValueMember::AlertInfo => other!(alert_info, "alert_info", map.next_value()?),
                ValueMember::MaxDailyConversationPerPhone => other!(
                    max_daily_conversation_per_phone,
                    "max_daily_conversation_per_phone",
                    map.next_value::<LenientU64>()?.0
                ),
                ValueMember::MaxPhoneNumbersPerBusiness => other!(
                    max_phone_numbers_per_business,
                    "max_phone_numbers_per_business",
                    map.next_value::<LenientU64>()?.0
                ),
                ValueMember::MaxPhoneNumbersPerWaba => other!(
                    max_phone_numbers_per_waba,
                    "max_phone_numbers_per_waba",
                    map.next_value::<LenientU64>()?.0
                ),
                ValueMember::Decision => other!(decision, "decision", cow(map.next_value()?)),
                ValueMember::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(v)
    }
}

/// A member that `field`'s shape requires is missing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{field}` value has no `{member}`")]
pub struct MissingMember {
    pub field: &'static str,
    pub member: &'static str,
}

/// The decoded `value` of a change, by `field`.
#[derive(Debug)]
pub enum ChangeValue<'a> {
    /// `messages`: delivery statuses and inbound messages of one phone number.
    Messages(MessagesValue<'a>),
    /// `message_template_status_update`
    TemplateStatus(TemplateStatusUpdate<'a>),
    /// `message_template_quality_update`
    TemplateQuality(TemplateQualityUpdate<'a>),
    /// `template_category_update`
    TemplateCategory(TemplateCategoryUpdate<'a>),
    /// `phone_number_quality_update`
    PhoneNumberQuality(PhoneNumberQualityUpdate<'a>),
    /// `account_update`
    AccountUpdate(AccountUpdate<'a>),
    /// `account_alerts`, `business_capability_update`, `account_review_update`: news about
    /// the business account, kept on the WABA with its history.
    AccountNews(AccountNews<'a>),
    /// A field this version does not handle; its name is kept for logs and metrics.
    Unhandled,
}

impl<'a> ChangeValue<'a> {
    /// Builds the typed value `field` names, taking its members out of `v` (one change's
    /// members; nothing else is moved).
    pub fn from_fields(field: &str, v: &mut ValueFields<'a>) -> Result<Self, MissingMember> {
        fn need<T>(
            x: Option<T>,
            field: &'static str,
            member: &'static str,
        ) -> Result<T, MissingMember> {
            x.ok_or(MissingMember { field, member })
        }
        // The other shapes' members (an empty set when the value had none).
        let mut none = OtherMembers::default();
        let o: &mut OtherMembers<'a> = match v.other.as_deref_mut() {
            Some(other) => other,
            None => &mut none,
        };
        Ok(match field {
            "messages" => Self::Messages(MessagesValue {
                messaging_product: v.messaging_product.take(),
                metadata: need(v.metadata.take(), "messages", "metadata")?,
                statuses: std::mem::take(&mut v.statuses),
                messages: std::mem::take(&mut v.messages),
                contacts: std::mem::take(&mut v.contacts),
                errors: std::mem::take(&mut v.errors),
            }),
            "message_template_status_update" => {
                const F: &str = "message_template_status_update";
                Self::TemplateStatus(TemplateStatusUpdate {
                    event: TemplateEvent::from_wire(&need(o.event.take(), F, "event")?),
                    message_template_id: need(
                        o.message_template_id.take(),
                        F,
                        "message_template_id",
                    )?,
                    message_template_name: o.message_template_name.take(),
                    message_template_language: o.message_template_language.take(),
                    message_template_category: o.message_template_category.take(),
                    reason: o.reason.take(),
                    other_info: o.other_info.take(),
                    disable_info: o.disable_info.take(),
                    rejection_info: o.rejection_info.take(),
                })
            }
            "message_template_quality_update" => {
                const F: &str = "message_template_quality_update";
                Self::TemplateQuality(TemplateQualityUpdate {
                    previous_quality_score: o.previous_quality_score.take(),
                    new_quality_score: need(o.new_quality_score.take(), F, "new_quality_score")?,
                    message_template_id: need(
                        o.message_template_id.take(),
                        F,
                        "message_template_id",
                    )?,
                    message_template_name: o.message_template_name.take(),
                    message_template_language: o.message_template_language.take(),
                })
            }
            "template_category_update" => Self::TemplateCategory(TemplateCategoryUpdate {
                message_template_id: need(
                    o.message_template_id.take(),
                    "template_category_update",
                    "message_template_id",
                )?,
                message_template_name: o.message_template_name.take(),
                message_template_language: o.message_template_language.take(),
                previous_category: o.previous_category.take(),
                new_category: o.new_category.take(),
                correct_category: o.correct_category.take(),
                category_update_timestamp: o.category_update_timestamp.take(),
            }),
            "phone_number_quality_update" => {
                const F: &str = "phone_number_quality_update";
                Self::PhoneNumberQuality(PhoneNumberQualityUpdate {
                    display_phone_number: need(
                        o.display_phone_number.take(),
                        F,
                        "display_phone_number",
                    )?,
                    event: need(o.event.take(), F, "event")?,
                    current_limit: o.current_limit.take(),
                    max_daily_conversations_per_business: o
                        .max_daily_conversations_per_business
                        .take(),
                })
            }
            "account_update" => Self::AccountUpdate(AccountUpdate {
                phone_number: o.phone_number.take(),
                event: need(o.event.take(), "account_update", "event")?,
                ban_info: o.ban_info.take(),
            }),
            "account_alerts" => Self::AccountNews(AccountNews::Alert {
                entity_type: o.entity_type.take(),
                entity_id: o.entity_id.take(),
                // A malformed alert_info is an alert without details, not a failed batch.
                alert_info: o.alert_info.take().and_then(|a| a.get().ok()),
            }),
            "business_capability_update" => Self::AccountNews(AccountNews::Capability {
                max_daily_conversation_per_phone: o.max_daily_conversation_per_phone.take(),
                max_daily_conversations_per_business: o.max_daily_conversations_per_business.take(),
                max_phone_numbers_per_business: o.max_phone_numbers_per_business.take(),
                max_phone_numbers_per_waba: o.max_phone_numbers_per_waba.take(),
            }),
            "account_review_update" => Self::AccountNews(AccountNews::Review {
                decision: need(o.decision.take(), "account_review_update", "decision")?,
            }),
            _ => Self::Unhandled,
        })
    }
}

/// `value` of a `messages` change.
#[derive(Debug)]
pub struct MessagesValue<'a> {
    pub messaging_product: Option<Cow<'a, str>>,
    pub metadata: Metadata<'a>,
    pub statuses: Vec<Status<'a>>,
    pub messages: Vec<InboundMessage<'a>>,
    pub contacts: Vec<Contact<'a>>,
    /// Errors about the change as a whole (not tied to one message).
    pub errors: Vec<MetaError<'a>>,
}

/// The business phone number a `messages` change is about.
#[derive(Debug, Deserialize)]
pub struct Metadata<'a> {
    #[serde(borrow, default)]
    pub display_phone_number: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub phone_number_id: Cow<'a, str>,
}

open_enum! {
    /// A message's delivery status.
    pub enum StatusKind {
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        /// Voice messages: the recipient played it.
        Played = "played",
        Failed = "failed",
        /// Message deleted by the sender (older API versions).
        Deleted = "deleted",
    }
}

/// A status update for one message the business sent. What routing, splitting and the
/// webhook's counts need is read in the parse; every other member is [`Deferred`]: only the
/// processor reads them, once per status it applies ([`Status::details`]). That keeps a status
/// at 128 bytes, which the parse moves twice (built, then pushed) for every status of a body.
#[derive(Debug, Deserialize)]
pub struct Status<'a> {
    /// The wamid of the message.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    pub status: StatusKind,
    /// Unix seconds.
    #[serde(deserialize_with = "u64_or_string")]
    pub timestamp: u64,
    #[serde(borrow, default)]
    pub recipient_id: Option<Deferred<'a, Cow<'a, str>>>,
    #[serde(borrow, default)]
    pub conversation: Option<Deferred<'a, Conversation<'a>>>,
    #[serde(borrow, default)]
    pub pricing: Option<Deferred<'a, Pricing<'a>>>,
    #[serde(borrow, default)]
    pub errors: Option<Deferred<'a, Vec<MetaError<'a>>>>,
    /// Echo of the `biz_opaque_callback_data` given when sending.
    #[serde(borrow, default)]
    pub biz_opaque_callback_data: Option<Deferred<'a, Cow<'a, str>>>,
    // `recipient_type` ("individual", "group") is not read: no field keeps it.
}

/// The members of a status only the processor reads, from their deferred JSON.
#[derive(Debug, Default)]
pub struct StatusDetails<'a> {
    pub recipient_id: Option<Cow<'a, str>>,
    pub conversation: Option<Conversation<'a>>,
    pub pricing: Option<Pricing<'a>>,
    pub errors: Vec<MetaError<'a>>,
    pub biz_opaque_callback_data: Option<Cow<'a, str>>,
}

impl<'a> Status<'a> {
    /// Reads the deferred members; an error when one does not have Meta's shape.
    pub fn details(&self) -> Result<StatusDetails<'a>, serde_json::Error> {
        Ok(StatusDetails {
            recipient_id: self.recipient_id.map(|r| r.get()).transpose()?,
            conversation: self.conversation.map(|c| c.get()).transpose()?,
            pricing: self.pricing.map(|p| p.get()).transpose()?,
            errors: self
                .errors
                .map(|e| e.get())
                .transpose()?
                .unwrap_or_default(),
            biz_opaque_callback_data: self.biz_opaque_callback_data.map(|b| b.get()).transpose()?,
        })
    }
}

/// A member kept as the JSON text it arrived as (well-formed JSON, within the parse's depth
/// limit) and read into `T` on demand. Skipping it costs the parse a scan, not a struct: the
/// webhook, which only routes and splits, never builds it.
pub struct Deferred<'a, T> {
    raw: &'a serde_json::value::RawValue,
    read_as: std::marker::PhantomData<fn() -> T>,
}

impl<'a, T: Deserialize<'a>> Deferred<'a, T> {
    /// Reads the member.
    pub fn get(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.raw.get())
    }

    /// The member's JSON text, as it arrived.
    pub fn raw(&self) -> &'a str {
        self.raw.get()
    }
}

impl<T> Clone for Deferred<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Deferred<'_, T> {}

impl<T> std::fmt::Debug for Deferred<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Deferred").field(&self.raw.get()).finish()
    }
}

impl<'de: 'a, 'a, T> Deserialize<'de> for Deferred<'a, T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self {
            raw: <&'de serde_json::value::RawValue>::deserialize(d)?,
            read_as: std::marker::PhantomData,
        })
    }
}

/// The conversation a message was billed in (conversation-based pricing; absent from API v24 on).
#[derive(Debug, Deserialize)]
pub struct Conversation<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default, deserialize_with = "opt_u64_or_string")]
    pub expiration_timestamp: Option<u64>,
    #[serde(borrow, default)]
    pub origin: Option<ConversationOrigin<'a>>,
}

/// Where a conversation started (`marketing`, `utility`, `service`, ...).
#[derive(Debug, Deserialize)]
pub struct ConversationOrigin<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
}

/// Pricing of a message.
#[derive(Debug, Deserialize)]
pub struct Pricing<'a> {
    #[serde(default)]
    pub billable: Option<bool>,
    /// `CBP` (conversation-based) or `PMP` (per-message).
    #[serde(borrow, default)]
    pub pricing_model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub category: Option<Cow<'a, str>>,
    /// PMP only: `regular`, `free_customer_service`, `free_entry_point`.
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
}

/// An error object as Meta reports it on a failed message.
#[derive(Debug, Deserialize)]
pub struct MetaError<'a> {
    pub code: i64,
    #[serde(borrow, default)]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub error_data: Option<ErrorData<'a>>,
    #[serde(borrow, default)]
    pub href: Option<Cow<'a, str>>,
}

/// `error_data` of an error object.
#[derive(Debug, Deserialize)]
pub struct ErrorData<'a> {
    #[serde(borrow, default)]
    pub details: Option<Cow<'a, str>>,
}

/// A message a customer sent to the business. Only what routing and replies need is kept;
/// message content is neither parsed nor stored.
#[derive(Debug, Deserialize)]
pub struct InboundMessage<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// The sender's WhatsApp id (phone number); Meta leaves it out for a user who adopted a
    /// username and has not messaged the business recently.
    #[serde(borrow, default)]
    pub from: Option<Cow<'a, str>>,
    /// The sender's business-scoped user id (BSUID, e.g. `US.13491208655302741918`).
    #[serde(borrow, default)]
    pub from_user_id: Option<Cow<'a, str>>,
    #[serde(deserialize_with = "u64_or_string")]
    pub timestamp: u64,
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub context: Option<MessageContext<'a>>,
    /// A quick-reply button's reply (`type: button`); read on demand, so a malformed one is a
    /// reply without a button, not a failed batch.
    #[serde(borrow, default)]
    pub button: Option<Deferred<'a, ButtonReply<'a>>>,
    /// A reply to an interactive message (`type: interactive`), read on demand likewise.
    #[serde(borrow, default)]
    pub interactive: Option<Deferred<'a, InteractiveReply<'a>>>,
}

/// `button` of an inbound message: the quick-reply button pressed.
#[derive(Debug, Deserialize)]
pub struct ButtonReply<'a> {
    #[serde(borrow, default)]
    pub payload: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
}

/// `interactive` of an inbound message: the reply button or list row chosen.
#[derive(Debug, Deserialize)]
pub struct InteractiveReply<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub button_reply: Option<Choice<'a>>,
    #[serde(borrow, default)]
    pub list_reply: Option<Choice<'a>>,
}

/// A chosen button or list row.
#[derive(Debug, Deserialize)]
pub struct Choice<'a> {
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub title: Option<Cow<'a, str>>,
}

impl InboundMessage<'_> {
    /// Who wrote: the WhatsApp id when Meta sends it, else the business-scoped user id.
    pub fn contact(&self) -> Option<&str> {
        self.from.as_deref().or(self.from_user_id.as_deref())
    }

    /// The reply's button: a quick-reply button's payload (or its text), an interactive reply's
    /// id (or its title). `None` for other kinds, and for a member that does not have Meta's
    /// shape.
    pub fn button_choice(&self) -> Option<String> {
        if let Some(b) = self.button.and_then(|b| b.get().ok()) {
            return b.payload.or(b.text).map(|p| p.into_owned());
        }
        let i = self.interactive.and_then(|i| i.get().ok())?;
        let choice = i.button_reply.or(i.list_reply)?;
        choice.id.or(choice.title).map(|c| c.into_owned())
    }
}

/// The message an inbound message replies to.
#[derive(Debug, Deserialize)]
pub struct MessageContext<'a> {
    #[serde(borrow, default)]
    pub from: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
}

/// A customer profile attached to inbound messages.
#[derive(Debug, Deserialize)]
pub struct Contact<'a> {
    /// Left out for a user who adopted a username (see `user_id`).
    #[serde(borrow, default)]
    pub wa_id: Option<Cow<'a, str>>,
    /// The business-scoped user id.
    #[serde(borrow, default)]
    pub user_id: Option<Cow<'a, str>>,
}

open_enum! {
    /// `event` of a template status update.
    pub enum TemplateEvent {
        Approved = "APPROVED",
        Rejected = "REJECTED",
        Pending = "PENDING",
        Paused = "PAUSED",
        Disabled = "DISABLED",
        Flagged = "FLAGGED",
        Reinstated = "REINSTATED",
        InAppeal = "IN_APPEAL",
        PendingDeletion = "PENDING_DELETION",
        Deleted = "DELETED",
        Archived = "ARCHIVED",
        Unarchived = "UNARCHIVED",
        LimitExceeded = "LIMIT_EXCEEDED",
    }
}

open_enum! {
    /// A template's quality rating.
    pub enum QualityScore {
        Green = "GREEN",
        Yellow = "YELLOW",
        Red = "RED",
        Unknown = "UNKNOWN",
    }
}

/// `value` of a `message_template_status_update` change.
#[derive(Debug)]
pub struct TemplateStatusUpdate<'a> {
    pub event: TemplateEvent,
    /// Up to u64: never read through `f64`.
    pub message_template_id: u64,
    pub message_template_name: Option<Cow<'a, str>>,
    pub message_template_language: Option<Cow<'a, str>>,
    pub message_template_category: Option<Cow<'a, str>>,
    pub reason: Option<Cow<'a, str>>,
    pub other_info: Option<OtherInfo<'a>>,
    pub disable_info: Option<DisableInfo>,
    pub rejection_info: Option<RejectionInfo<'a>>,
}

/// `other_info` of a status update: pause and unpause details.
#[derive(Debug, Deserialize)]
pub struct OtherInfo<'a> {
    /// `FIRST_PAUSE`, `SECOND_PAUSE`, `RATE_LIMITING_PAUSE`, `UNPAUSE`, ...
    #[serde(borrow, default)]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub description: Option<Cow<'a, str>>,
}

/// `disable_info` of a status update.
#[derive(Debug, Deserialize)]
pub struct DisableInfo {
    #[serde(default, deserialize_with = "opt_u64_or_string")]
    pub disable_date: Option<u64>,
}

/// `rejection_info` of a status update.
#[derive(Debug, Deserialize)]
pub struct RejectionInfo<'a> {
    #[serde(borrow, default)]
    pub reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub recommendation: Option<Cow<'a, str>>,
}

/// `value` of a `message_template_quality_update` change.
#[derive(Debug)]
pub struct TemplateQualityUpdate<'a> {
    pub previous_quality_score: Option<QualityScore>,
    pub new_quality_score: QualityScore,
    pub message_template_id: u64,
    pub message_template_name: Option<Cow<'a, str>>,
    pub message_template_language: Option<Cow<'a, str>>,
}

/// `value` of a `template_category_update` change: either an impending change
/// (`correct_category` + `category_update_timestamp`) or a completed one (`previous_category`).
#[derive(Debug)]
pub struct TemplateCategoryUpdate<'a> {
    pub message_template_id: u64,
    pub message_template_name: Option<Cow<'a, str>>,
    pub message_template_language: Option<Cow<'a, str>>,
    pub previous_category: Option<Cow<'a, str>>,
    pub new_category: Option<Cow<'a, str>>,
    pub correct_category: Option<Cow<'a, str>>,
    pub category_update_timestamp: Option<u64>,
}

/// `value` of a `phone_number_quality_update` change.
#[derive(Debug)]
pub struct PhoneNumberQualityUpdate<'a> {
    pub display_phone_number: Cow<'a, str>,
    /// `DOWNGRADE`, `UPGRADE`, `FLAGGED`, `UNFLAGGED`, ...
    pub event: Cow<'a, str>,
    pub current_limit: Option<Cow<'a, str>>,
    pub max_daily_conversations_per_business: Option<u64>,
}

/// `value` of an `account_update` change.
#[derive(Debug)]
pub struct AccountUpdate<'a> {
    pub phone_number: Option<Cow<'a, str>>,
    pub event: Cow<'a, str>,
    pub ban_info: Option<BanInfo<'a>>,
}

/// News about a business account that changes no campaign by itself.
#[derive(Debug)]
pub enum AccountNews<'a> {
    /// `account_alerts`: Meta's alert about the business or a phone number.
    Alert {
        /// `BUSINESS`, `PHONE_NUMBER`, ...
        entity_type: Option<Cow<'a, str>>,
        entity_id: Option<Cow<'a, str>>,
        alert_info: Option<AlertInfo<'a>>,
    },
    /// `business_capability_update`: the account's limits.
    Capability {
        max_daily_conversation_per_phone: Option<u64>,
        max_daily_conversations_per_business: Option<u64>,
        max_phone_numbers_per_business: Option<u64>,
        max_phone_numbers_per_waba: Option<u64>,
    },
    /// `account_review_update`: the account review's decision (`APPROVED`, `REJECTED`, ...).
    Review { decision: Cow<'a, str> },
}

/// `alert_info` of an `account_alerts` change.
#[derive(Debug, Deserialize)]
pub struct AlertInfo<'a> {
    /// `CRITICAL`, `WARNING`, `INFORMATIONAL`.
    #[serde(borrow, default)]
    pub alert_severity: Option<Cow<'a, str>>,
    /// `ACTIVE`, `NONE`.
    #[serde(borrow, default)]
    pub alert_status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub alert_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub alert_description: Option<Cow<'a, str>>,
}

/// `ban_info` of an account update.
#[derive(Debug, Deserialize)]
pub struct BanInfo<'a> {
    /// `SCHEDULE_FOR_DISABLE`, `DISABLE`, `REINSTATE`.
    #[serde(borrow)]
    pub waba_ban_state: Cow<'a, str>,
    #[serde(borrow, default)]
    pub waba_ban_date: Option<Cow<'a, str>>,
}
